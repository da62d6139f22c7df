//! The local control socket (`otmetka-kiosk ctl …`): one JSON [`Command`] per line in, one JSON
//! reply per line out, over a Unix socket. It drives the demo, the tests and remote support.
//! A `tap` is answered only after the store committed.

use crate::kiosk::{Command, Internal, Reply};
use crate::worker::WorkerHandle;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
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

/// The longest request line taken; a longer one closes the connection.
pub const MAX_LINE: u64 = 64 * 1024;

/// Most connections served at once; one more is answered with an error and closed.
pub const MAX_CONNECTIONS: usize = 8;

/// Serves the socket until the process ends. Each connection gets its own thread.
///
/// The socket is the kiosk user's alone: mode 0600, and a connection from another user (its
/// peer's uid, `SO_PEERCRED`) is refused even in the moment between bind and chmod. Only the
/// commands a person or a script sends are taken: a [`Command`] is all it parses, and the feed's
/// and the reader's plumbing ([`Internal`]) has no wire form.
pub fn serve(
    path: &Path,
    worker: WorkerHandle,
    extra: Option<ExtraHandler>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket file left by a killed kiosk would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for mut conn in listener.incoming().flatten() {
                if let Err(why) = peer_allowed(&conn) {
                    tracing::warn!("control socket: refused a connection: {why}");
                    let _ = write_answer(&mut conn, &Answer::Error(why));
                    continue;
                }
                if open.load(std::sync::atomic::Ordering::SeqCst) >= MAX_CONNECTIONS {
                    let _ = write_answer(
                        &mut conn,
                        &Answer::Error(format!(
                            "the kiosk serves {MAX_CONNECTIONS} connections at most: try again"
                        )),
                    );
                    continue;
                }
                open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (worker, extra, held) = (worker.clone(), extra.clone(), open.clone());
                let spawned = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || {
                        serve_conn(conn, &worker, extra.as_ref());
                        held.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        })?;
    Ok(())
}

/// Whether the connecting process runs as this kiosk's user (or root).
fn peer_allowed(conn: &UnixStream) -> Result<(), String> {
    let peer = rustix::net::sockopt::socket_peercred(conn)
        .map_err(|e| format!("cannot tell who connected: {e}"))?;
    let me = rustix::process::getuid();
    if peer.uid == me || peer.uid.is_root() {
        Ok(())
    } else {
        Err(format!(
            "uid {} may not drive this kiosk (it runs as uid {})",
            peer.uid.as_raw(),
            me.as_raw()
        ))
    }
}

fn write_answer(out: &mut UnixStream, answer: &Answer) -> std::io::Result<()> {
    let mut json = serde_json::to_string(answer).map_err(std::io::Error::other)?;
    json.push('\n');
    out.write_all(json.as_bytes())
}

fn serve_conn(conn: UnixStream, worker: &WorkerHandle, extra: Option<&ExtraHandler>) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_LINE + 1).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(n) if n as u64 > MAX_LINE => {
                let _ = write_answer(
                    &mut out,
                    &Answer::Error(format!("a request is at most {MAX_LINE} bytes")),
                );
                // Take (a bounded part of) what is still coming before closing, so the client
                // reads the answer instead of a reset.
                let _ = out.shutdown(std::net::Shutdown::Write);
                let _ = reader
                    .get_ref()
                    .set_read_timeout(Some(std::time::Duration::from_millis(500)));
                let _ = std::io::copy(&mut (&mut reader).take(1 << 20), &mut std::io::sink());
                return;
            }
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Kiosk(cmd)) => worker.call(cmd),
            Ok(Request::Extra(req)) => match extra {
                Some(h) => h(&req),
                None => Err("this kiosk has no screen to take a screenshot of".into()),
            },
            Err(e) => Err(match internal_name(&line) {
                Some(name) => format!("{name} is not a command of the control socket"),
                None => format!("not a command: {e}"),
            }),
        };
        let answer = match answer {
            Ok(r) => Answer::Ok(r),
            Err(e) => Answer::Error(e),
        };
        if write_answer(&mut out, &answer).is_err() {
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

/// The name of the kiosk's internal message a line names, if it does (to say so).
fn internal_name(line: &str) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let cmd = v.get("cmd")?.as_str()?;
    Internal::NAMES.into_iter().find(|n| *n == cmd)
}

/// Where a screenshot asked for as `asked` is written: a `.png` file in `dir` (a relative name is
/// taken in it; an absolute path must lie in it), never through a symbolic link. The control
/// socket must not let its user overwrite the database or any other file the kiosk can write.
pub fn screenshot_target(dir: &Path, asked: &str) -> Result<std::path::PathBuf, String> {
    let asked = Path::new(asked);
    if asked.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(format!(
            "a screenshot is a .png file, not {}",
            asked.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot make the screenshot directory {}: {e}",
            dir.display()
        )
    })?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("the screenshot directory {}: {e}", dir.display()))?;
    let path = if asked.is_relative() {
        dir.join(asked)
    } else {
        asked.to_path_buf()
    };
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("not a file name: {}", asked.display()));
    };
    let parent = parent
        .canonicalize()
        .map_err(|e| format!("{}: {e}", parent.display()))?;
    if !parent.starts_with(&dir) {
        return Err(format!(
            "screenshots are written only in {} (screenshot_dir), not in {}",
            dir.display(),
            parent.display()
        ));
    }
    Ok(parent.join(name))
}

/// Writes a screenshot at a path [`screenshot_target`] gave: a new or regular file, never a
/// symbolic link's target, readable by the kiosk user and its group.
pub fn write_screenshot(path: &Path, png: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(png)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
