//! The local control socket (`otmetka-kiosk ctl …`): one JSON [`Command`] per line in, one JSON
//! reply per line out, over a Unix socket. It drives the demo, the tests and remote support.
//! A `tap` is answered only after the store committed.

use crate::kiosk::{Command, Reply};
use crate::worker::WorkerHandle;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// A reply on the wire: the kiosk's reply, or an error sentence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ok(Reply),
    Error(String),
}

/// A command on the wire: a kiosk command, or a request the socket serves itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Request {
    Kiosk(Command),
    Extra(ExtraRequest),
}

/// Requests outside the kiosk logic (screens).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cmd")]
pub enum ExtraRequest {
    /// Save the screen as PNG.
    Screenshot { path: String },
    /// Which screen is shown.
    Screen,
    /// Render the screen now and describe the frame (benchmarks, remote support).
    Frame,
    /// Press a button of the screens: `instructor`, `finish`, `diagnostics`, `back` (remote
    /// support, tests).
    Press { action: String },
}

/// Handles requests the worker does not (screenshots); returns None to pass on.
pub type ExtraHandler =
    std::sync::Arc<dyn Fn(&ExtraRequest) -> Result<Reply, String> + Send + Sync>;

/// Serves the socket until the process ends. Each connection gets its own thread.
pub fn serve(
    path: &Path,
    worker: WorkerHandle,
    extra: Option<ExtraHandler>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket file left by a killed kiosk would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let worker = worker.clone();
                let extra = extra.clone();
                let _ = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || serve_conn(conn, &worker, extra.as_ref()));
            }
        })?;
    Ok(())
}

fn serve_conn(conn: UnixStream, worker: &WorkerHandle, extra: Option<&ExtraHandler>) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Kiosk(cmd)) => worker.call(cmd),
            Ok(Request::Extra(req)) => match extra {
                Some(h) => h(&req),
                None => Err("this kiosk has no screen to take a screenshot of".into()),
            },
            Err(e) => Err(format!("not a command: {e}")),
        };
        let answer = match answer {
            Ok(r) => Answer::Ok(r),
            Err(e) => Answer::Error(e),
        };
        let Ok(mut json) = serde_json::to_string(&answer) else {
            return;
        };
        json.push('\n');
        if out.write_all(json.as_bytes()).is_err() {
            return;
        }
    }
}

/// A client of the control socket.
#[derive(Debug)]
pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl ControlClient {
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        let s = UnixStream::connect(path)?;
        Ok(ControlClient {
            writer: s.try_clone()?,
            reader: BufReader::new(s),
        })
    }

    /// Sends a request and reads its answer.
    pub fn request(&mut self, req: &Request) -> std::io::Result<Answer> {
        let mut json = serde_json::to_string(req).map_err(std::io::Error::other)?;
        json.push('\n');
        self.writer.write_all(json.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the kiosk closed the connection",
            ));
        }
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }

    /// Sends a kiosk command.
    pub fn call(&mut self, cmd: Command) -> std::io::Result<Answer> {
        self.request(&Request::Kiosk(cmd))
    }
}
