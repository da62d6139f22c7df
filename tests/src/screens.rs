//! Screenshots of the real kiosk compared with the pictures committed under `docs/screens/`:
//! `OTMETKA_UPDATE_SCREENS=1` rewrites the pictures instead (look at them before committing).

use crate::site::KioskProcess;
use otmetka_app::control::ExtraRequest;
use otmetka_app::kiosk::Reply;
use std::path::{Path, PathBuf};

/// The screen's name in a `Screen` reply.
pub fn screen_name(reply: Reply) -> String {
    match reply {
        Reply::Screen { name } => name,
        other => panic!("{other:?}"),
    }
}

/// Pixels of two pictures differing by more than a little in some channel, as a share.
pub fn differing_share(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()) / 4;
    let differ = a
        .chunks_exact(4)
        .zip(b.chunks_exact(4))
        .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    differ as f64 / n.max(1) as f64
}

/// An RGBA picture from a PNG file: (width, height, pixels).
pub fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("screenshot");
    let mut buf = vec![0; reader.output_buffer_size().expect("screenshot")];
    let info = reader.next_frame(&mut buf).expect("screenshot");
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    (info.width, info.height, rgba)
}

/// Screenshots taken in `out`, compared with the pictures in `golden`.
#[derive(Debug)]
pub struct Shots {
    pub out: PathBuf,
    pub golden: PathBuf,
    pub update: bool,
    /// The pictures that differ, described.
    pub mismatches: Vec<String>,
}

impl Shots {
    /// Screenshots into `out`, compared with `docs/screens/{golden}` (rewritten with
    /// `OTMETKA_UPDATE_SCREENS=1`).
    pub fn new(out: &Path, golden: &str) -> Shots {
        Shots {
            out: out.to_path_buf(),
            golden: crate::site::repo_root().join("docs/screens").join(golden),
            update: std::env::var_os("OTMETKA_UPDATE_SCREENS").is_some(),
            mismatches: Vec::new(),
        }
    }

    /// Takes a screenshot, checks the screen's name and compares it with its golden picture.
    pub fn take(&mut self, k: &KioskProcess, name: &str, screen: &str) {
        let path = self.out.join(format!("{name}.png"));
        let shown = screen_name(
            k.extra(ExtraRequest::Screenshot {
                path: path.display().to_string(),
            })
            .expect("screenshot"),
        );
        assert_eq!(shown, screen, "step {name}: the kiosk shows {shown}");
        let golden = self.golden.join(format!("{name}.png"));
        if self.update {
            std::fs::create_dir_all(&self.golden).expect("screenshot");
            std::fs::copy(&path, &golden).expect("screenshot");
            return;
        }
        assert!(
            golden.exists(),
            "{} is missing: run with OTMETKA_UPDATE_SCREENS=1 and look at the pictures",
            golden.display()
        );
        let (w1, h1, a) = decode(&path);
        let (w2, h2, b) = decode(&golden);
        let share = if (w1, h1) == (w2, h2) {
            differing_share(&a, &b)
        } else {
            1.0
        };
        // Anti-aliasing may differ in a few pixels between runs; a changed word does not.
        if share > 0.002 {
            self.mismatches.push(format!(
                "{name}: {:.2} % of pixels differ from {} (now: {})",
                share * 100.0,
                golden.display(),
                path.display()
            ));
        }
    }
}
