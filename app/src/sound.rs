//! Audio prompts: a short tone per outcome, the person's name by text-to-speech, and a fixed
//! spoken clip per decision kind — the voice that duplicates the screen's text (002 §4.3, line
//! 149).
//!
//! Clips live under `config/sounds/`: `tones/<tone>.wav` and `<lang>/<kind>.wav`, made by
//! `config/sounds/make.sh` (espeak-ng and sox) and replaceable by recorded voice with the same
//! names. Names are spoken by a configurable command (default `espeak-ng -v ru --stdout {text}`),
//! run without a shell: `{text}` is one argument, so a name can never become a command.
//!
//! [`plan`] turns a [`Prompt`] into [`Piece`]s (pure); [`Player`] renders them on a worker
//! thread (reads the files, runs the TTS, applies the volume to the PCM samples) and hands the
//! WAVs to a [`Sink`]: `aplay` (alsa-utils) on the kiosk, a directory for tests and headless
//! demos, or nothing. A newer prompt replaces the ones still waiting: a person tapping twice
//! hears the latest answer, not a backlog.
//!
//! The player keeps what the sound device did last ([`SoundState`]: fine, missing, busy, failed),
//! read from aplay's exit and its message; the kiosk's health carries it to the diagnostics
//! screen and `ctl status`, so a speaker unplugged or a device another program holds is seen,
//! not silent. At start the player plays 20 ms of silence to learn it before the first tap.

use crate::ui::view::Prompt;
use otmetka_core::decision::Tone;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where the played sound goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// `aplay -q [-D device] -` (alsa-utils).
    Aplay { device: Option<String> },
    /// Writes each WAV it would play as `NNNN-<label>.wav` into this directory.
    Dir(PathBuf),
    /// Plays nothing.
    Silent,
}

/// Sound settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundConfig {
    /// The root of the clips (`config/sounds`).
    pub sounds_dir: PathBuf,
    /// The TTS command as words; the word `{text}` is replaced by the name. Must write a WAV to
    /// its standard output.
    pub tts_command: Vec<String>,
    /// 0.0 (mute) ..= 1.0 (as recorded).
    pub volume: f32,
    /// Whether names are spoken (a site may prefer not to say names aloud).
    pub speak_names: bool,
    pub sink: Sink,
}

impl SoundConfig {
    /// The defaults: `config/sounds` under `root`, espeak-ng in Russian, full volume, names
    /// spoken, played by aplay.
    pub fn new(sounds_dir: impl Into<PathBuf>) -> SoundConfig {
        SoundConfig {
            sounds_dir: sounds_dir.into(),
            tts_command: default_tts_command(),
            volume: 1.0,
            speak_names: true,
            sink: Sink::Aplay { device: None },
        }
    }
}

/// `espeak-ng -v ru --stdout {text}`.
pub fn default_tts_command() -> Vec<String> {
    ["espeak-ng", "-v", "ru", "--stdout", "{text}"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Parses a TTS command line as the config file gives it ("espeak-ng -v ru --stdout {text}"):
/// words split on whitespace, no shell.
pub fn parse_tts_command(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// What can go wrong with a sound.
#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    #[error("sound file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a 16-bit PCM WAV: {0}")]
    Format(&'static str),
    #[error("text-to-speech command {cmd:?} failed: {why}")]
    Tts { cmd: String, why: String },
    #[error("player {cmd}: {why}")]
    Play { cmd: String, why: String },
    #[error("cannot start the player {cmd}: {why}")]
    NoPlayer { cmd: String, why: String },
}

/// What the sound device did the last time the player used it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoundState {
    /// Not played through a device (headless, a directory of WAVs, silent).
    #[default]
    NotUsed,
    /// A device, not tried yet.
    Unchecked,
    Fine,
    /// No such device: unplugged, the wrong `device`, no sound card.
    Missing,
    /// Another program holds the device.
    Busy,
    /// It failed otherwise (the log says how).
    Failed,
}

impl SoundState {
    /// How a failed aplay's message reads (its `audio open error: …` is the C library's
    /// `strerror`, in English whatever the locale: the player runs with `LC_ALL=C`).
    pub fn of_failure(message: &str) -> SoundState {
        if message.contains("Device or resource busy") {
            SoundState::Busy
        } else if [
            "No such file or directory",
            "No such device",
            "no soundcards found",
        ]
        .iter()
        .any(|m| message.contains(m))
        {
            SoundState::Missing
        } else {
            SoundState::Failed
        }
    }
}

/// A shared view of the player's [`SoundState`] (the health probe reads it on each tick).
#[derive(Debug, Clone, Default)]
pub struct SoundWatch(std::sync::Arc<std::sync::Mutex<SoundState>>);

impl SoundWatch {
    pub fn get(&self) -> SoundState {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, state: SoundState) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if *s != state {
            match state {
                SoundState::Fine if *s != SoundState::Unchecked => {
                    tracing::info!("the sound device plays again")
                }
                SoundState::Missing | SoundState::Busy | SoundState::Failed => {
                    tracing::error!(
                        ?state,
                        "the sound device does not play: the prompts are silent"
                    )
                }
                _ => {}
            }
        }
        *s = state;
    }
}

/// One part of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A clip file.
    File(PathBuf),
    /// A text for the TTS command.
    Speak(String),
}

/// The file name of a tone's clip.
pub fn tone_clip(tone: Tone) -> &'static str {
    match tone {
        Tone::Accepted => "accepted",
        Tone::Notice => "notice",
        Tone::Warning => "warning",
        Tone::Refused => "refused",
        Tone::Error => "error",
    }
}

/// The path of a decision kind's spoken clip.
pub fn voice_clip_path(sounds_dir: &Path, lang: &str, clip: &str) -> PathBuf {
    sounds_dir.join(lang).join(format!("{clip}.wav"))
}

/// The path of a tone's clip.
pub fn tone_clip_path(sounds_dir: &Path, tone: Tone) -> PathBuf {
    sounds_dir
        .join("tones")
        .join(format!("{}.wav", tone_clip(tone)))
}

/// What to play for a prompt: the tone, the name (if names are spoken), the clip.
pub fn plan(prompt: &Prompt, config: &SoundConfig) -> Vec<Piece> {
    let mut out = vec![Piece::File(tone_clip_path(&config.sounds_dir, prompt.tone))];
    if config.speak_names
        && let Some(name) = &prompt.name
        && !name.trim().is_empty()
    {
        out.push(Piece::Speak(name.clone()));
    }
    out.push(Piece::File(voice_clip_path(
        &config.sounds_dir,
        prompt.lang.code(),
        &prompt.clip,
    )));
    out
}

/// The PCM layout of a WAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub channels: u16,
    pub sample_rate: u32,
    /// Byte range of the samples.
    pub data: (usize, usize),
}

/// Finds the `fmt ` and `data` chunks of a 16-bit PCM WAV. A `data` size of 0 or beyond the end
/// (what a streaming writer such as `espeak-ng --stdout` leaves) means "to the end".
pub fn wav_info(wav: &[u8]) -> Result<WavInfo, SoundError> {
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(SoundError::Format("no RIFF/WAVE header"));
    }
    let mut pos = 12;
    let mut fmt: Option<(u16, u32, u16, u16)> = None;
    // Bounded: each step advances by at least 8 bytes.
    while pos + 8 <= wav.len() {
        let id = &wav[pos..pos + 4];
        let size =
            u32::from_le_bytes([wav[pos + 4], wav[pos + 5], wav[pos + 6], wav[pos + 7]]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if body + 16 > wav.len() {
                return Err(SoundError::Format("short fmt chunk"));
            }
            let f = &wav[body..body + 16];
            fmt = Some((
                u16::from_le_bytes([f[0], f[1]]),
                u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                u16::from_le_bytes([f[2], f[3]]),
                u16::from_le_bytes([f[14], f[15]]),
            ));
        } else if id == b"data" {
            let (format, rate, channels, bits) =
                fmt.ok_or(SoundError::Format("data before fmt"))?;
            if format != 1 || bits != 16 {
                return Err(SoundError::Format("only 16-bit PCM is supported"));
            }
            let end = if size == 0 || body.saturating_add(size) > wav.len() {
                wav.len()
            } else {
                body + size
            };
            return Ok(WavInfo {
                channels,
                sample_rate: rate,
                data: (body, end),
            });
        }
        pos = body.saturating_add(size + (size & 1));
    }
    Err(SoundError::Format("no data chunk"))
}

/// The WAV with its samples multiplied by `volume` (clamped to 0..=1).
pub fn scale_wav(wav: &[u8], volume: f32) -> Result<Vec<u8>, SoundError> {
    let info = wav_info(wav)?;
    let v = volume.clamp(0.0, 1.0);
    let mut out = wav.to_vec();
    let (start, end) = info.data;
    let end = start + (end - start) / 2 * 2;
    for i in (start..end).step_by(2) {
        let s = i16::from_le_bytes([out[i], out[i + 1]]);
        let scaled = (f32::from(s) * v).round() as i16;
        out[i..i + 2].copy_from_slice(&scaled.to_le_bytes());
    }
    Ok(out)
}

/// Renders a piece into WAV bytes at the configured volume.
pub fn render_piece(piece: &Piece, config: &SoundConfig) -> Result<Vec<u8>, SoundError> {
    let raw = match piece {
        Piece::File(path) => std::fs::read(path).map_err(|source| SoundError::Read {
            path: path.clone(),
            source,
        })?,
        Piece::Speak(text) => run_tts(&config.tts_command, text)?,
    };
    scale_wav(&raw, config.volume)
}

/// How long a helper process (TTS, aplay) may take before it is killed.
const PROCESS_LIMIT: Duration = Duration::from_secs(20);

fn run_tts(cmd: &[String], text: &str) -> Result<Vec<u8>, SoundError> {
    let shown = cmd.join(" ");
    let (prog, args) = cmd.split_first().ok_or(SoundError::Tts {
        cmd: shown.clone(),
        why: "empty command".into(),
    })?;
    let args: Vec<String> = args.iter().map(|a| a.replace("{text}", text)).collect();
    let child = Command::new(prog)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SoundError::Tts {
            cmd: shown.clone(),
            why: e.to_string(),
        })?;
    let out = child.wait_with_output().map_err(|e| SoundError::Tts {
        cmd: shown.clone(),
        why: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(SoundError::Tts {
            cmd: shown,
            why: format!("exit status {}", out.status),
        });
    }
    Ok(out.stdout)
}

fn aplay(device: &Option<String>, wav: &[u8]) -> Result<(), SoundError> {
    let mut cmd = Command::new("aplay");
    cmd.arg("-q");
    if let Some(d) = device {
        cmd.arg("-D").arg(d);
    }
    let mut child = cmd
        .arg("-")
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SoundError::NoPlayer {
            cmd: "aplay".into(),
            why: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A broken pipe (aplay gave up) shows in the exit status below.
        let _ = stdin.write_all(wav);
    }
    let started = Instant::now();
    // Bounded wait: a stuck sound device must not stall the prompts forever.
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                // It has exited: what it said is all in the pipe (a line or two).
                let mut said = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut said);
                }
                return Err(SoundError::Play {
                    cmd: "aplay".into(),
                    why: format!("{status}: {}", said.trim()),
                });
            }
            Ok(None) if started.elapsed() > PROCESS_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SoundError::Play {
                    cmd: "aplay".into(),
                    why: "timed out".into(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(SoundError::Play {
                    cmd: "aplay".into(),
                    why: e.to_string(),
                });
            }
        }
    }
}

/// Plays prompts on a worker thread.
#[derive(Debug)]
pub struct Player {
    tx: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    watch: SoundWatch,
}

#[derive(Debug)]
enum Job {
    Play(Vec<Piece>, SoundConfig),
    /// Plays a moment of silence to learn the device's state.
    Probe(SoundConfig),
    /// Answers when every job before it is done (tests, shutdown).
    Flush(mpsc::Sender<()>),
}

impl Player {
    /// Starts the worker. Errors while playing are logged to stderr and never stop the kiosk.
    pub fn new() -> Player {
        let (tx, rx) = mpsc::channel::<Job>();
        let watch = SoundWatch::default();
        let state = watch.clone();
        let worker = std::thread::Builder::new()
            .name("sound".into())
            .spawn(move || {
                let mut seq: u32 = 0;
                while let Ok(mut job) = rx.recv() {
                    // Latest prompt wins: skip plays that a newer one has replaced.
                    while let Job::Play(..) = job {
                        match rx.try_recv() {
                            Ok(next @ Job::Play(..)) => job = next,
                            Ok(other) => {
                                play_job(&job, &mut seq, &state);
                                job = other;
                            }
                            Err(_) => break,
                        }
                    }
                    play_job(&job, &mut seq, &state);
                }
            })
            .ok();
        Player {
            tx: worker.as_ref().map(|_| tx),
            worker,
            watch,
        }
    }

    /// What the sound device did last, as the health probe reads it.
    pub fn watch(&self) -> SoundWatch {
        self.watch.clone()
    }

    /// Plays 20 ms of silence through `config`'s sink (returns at once): the state is known
    /// before the first prompt.
    pub fn probe(&self, config: &SoundConfig) {
        if let Some(tx) = &self.tx {
            if matches!(config.sink, Sink::Aplay { .. }) {
                self.watch.set(SoundState::Unchecked);
            }
            let _ = tx.send(Job::Probe(config.clone()));
        }
    }

    /// Plays a prompt (returns at once).
    pub fn play(&self, prompt: &Prompt, config: &SoundConfig) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Play(plan(prompt, config), config.clone()));
        }
    }

    /// Waits until everything queued so far is played, at most `limit`.
    pub fn flush(&self, limit: Duration) -> bool {
        let Some(tx) = &self.tx else { return false };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(Job::Flush(done_tx)).is_err() {
            return false;
        }
        done_rx.recv_timeout(limit).is_ok()
    }
}

impl Default for Player {
    fn default() -> Self {
        Player::new()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn play_job(job: &Job, seq: &mut u32, state: &SoundWatch) {
    match job {
        Job::Flush(done) => {
            let _ = done.send(());
        }
        Job::Probe(config) => {
            if let Sink::Aplay { device } = &config.sink {
                let played = aplay(device, &silence(20));
                if let Err(e) = &played {
                    tracing::warn!("sound: the device at start: {e}");
                }
                state.set(device_state(&played));
            }
        }
        Job::Play(pieces, config) => {
            for piece in pieces {
                let played = play_piece(piece, config, seq);
                if let Err(e) = &played {
                    tracing::warn!("sound: {e}");
                }
                if matches!(config.sink, Sink::Aplay { .. }) {
                    // A clip or a name that could not be made says nothing of the device.
                    if !matches!(
                        played,
                        Err(SoundError::Read { .. }
                            | SoundError::Format(_)
                            | SoundError::Tts { .. })
                    ) {
                        state.set(device_state(&played));
                    }
                }
            }
        }
    }
}

/// The device's state after a play through it.
fn device_state(played: &Result<(), SoundError>) -> SoundState {
    match played {
        Ok(()) => SoundState::Fine,
        Err(SoundError::Play { why, .. }) => SoundState::of_failure(why),
        Err(_) => SoundState::Failed,
    }
}

/// A WAV of `ms` milliseconds of silence.
fn silence(ms: usize) -> Vec<u8> {
    pcm_wav(&vec![0; 16 * ms])
}

/// 16 kHz mono 16-bit samples as a WAV.
fn pcm_wav(samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&len.saturating_add(36).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&32000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&data);
    v
}

fn play_piece(piece: &Piece, config: &SoundConfig, seq: &mut u32) -> Result<(), SoundError> {
    if config.sink == Sink::Silent {
        return Ok(());
    }
    let wav = render_piece(piece, config)?;
    *seq += 1;
    match &config.sink {
        Sink::Silent => Ok(()),
        Sink::Aplay { device } => aplay(device, &wav),
        Sink::Dir(dir) => {
            let label = match piece {
                Piece::File(p) => {
                    let parent = p
                        .parent()
                        .and_then(|d| d.file_name())
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let stem = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("{parent}-{stem}")
                }
                Piece::Speak(_) => "tts".to_string(),
            };
            let path = dir.join(format!("{:04}-{label}.wav", seq));
            std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(&path, wav))
                .map_err(|source| SoundError::Read { path, source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::Lang;

    fn wav(samples: &[i16]) -> Vec<u8> {
        pcm_wav(samples)
    }

    fn prompt(name: Option<&str>) -> Prompt {
        Prompt {
            tone: Tone::Accepted,
            name: name.map(str::to_string),
            clip: "accepted".into(),
            lang: Lang::Ru,
        }
    }

    #[test]
    fn plan_orders_tone_name_clip_and_respects_speak_names() {
        let mut c = SoundConfig::new("/s");
        let p = plan(&prompt(Some("Мария Ивановна")), &c);
        assert_eq!(
            p,
            vec![
                Piece::File("/s/tones/accepted.wav".into()),
                Piece::Speak("Мария Ивановна".into()),
                Piece::File("/s/ru/accepted.wav".into()),
            ]
        );
        c.speak_names = false;
        assert_eq!(plan(&prompt(Some("Мария Ивановна")), &c).len(), 2);
        assert_eq!(plan(&prompt(None), &SoundConfig::new("/s")).len(), 2);
    }

    #[test]
    fn volume_scales_samples_and_keeps_header() {
        let w = wav(&[1000, -2000, 32767]);
        let half = scale_wav(&w, 0.5).unwrap();
        assert_eq!(half.len(), w.len());
        assert_eq!(&half[..44], &w[..44]);
        let s: Vec<i16> = half[44..]
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(s, vec![500, -1000, 16384]);
        let mute = scale_wav(&w, 0.0).unwrap();
        assert!(mute[44..].iter().all(|b| *b == 0));
        assert!(scale_wav(b"not a wav", 1.0).is_err());
    }

    #[test]
    fn streaming_wav_with_zero_data_size_reads_to_end() {
        let mut w = wav(&[1, 2, 3]);
        w[40..44].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(wav_info(&w).unwrap().data, (44, 50));
    }

    #[test]
    fn tts_argument_is_one_word_not_a_shell() {
        assert_eq!(
            parse_tts_command("espeak-ng -v ru --stdout {text}"),
            default_tts_command()
        );
        // `echo` prints its arguments: the name stays one argument, the `;` is not a shell.
        let out = run_tts(
            &["echo".to_string(), "{text}".to_string()],
            "Мария; rm -rf /",
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "Мария; rm -rf /\n");
    }

    #[test]
    fn default_tts_speaks_a_russian_name_as_wav() {
        // The real espeak-ng (a Debian package the project installs).
        let wav = render_piece(
            &Piece::Speak("Мария Ивановна".into()),
            &SoundConfig::new("/"),
        )
        .unwrap();
        let info = wav_info(&wav).unwrap();
        let samples = (info.data.1 - info.data.0) / 2 / usize::from(info.channels);
        let seconds = samples as f64 / f64::from(info.sample_rate);
        assert!(seconds > 0.5, "{seconds} s");
        let loud = wav[info.data.0..info.data.1]
            .chunks(2)
            .filter(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() > 1000)
            .count();
        assert!(loud > 1000, "nearly silent: {loud} loud samples");
    }

    #[test]
    fn a_missing_or_busy_sound_device_is_told_from_aplays_message() {
        let said = |m: &str| SoundState::of_failure(m);
        assert_eq!(
            said("exit status: 1: aplay: main:831: audio open error: Device or resource busy"),
            SoundState::Busy
        );
        assert_eq!(
            said(
                "exit status: 1: ALSA lib confmisc.c:165:(snd_config_get_card) Cannot get card index for 5\naplay: main:831: audio open error: No such file or directory"
            ),
            SoundState::Missing
        );
        assert_eq!(
            said("exit status: 1: aplay: no soundcards found..."),
            SoundState::Missing
        );
        assert_eq!(said("exit status: 1: underrun!!!"), SoundState::Failed);
        // aplay itself not installed is the package's fault, not the speaker's.
        let no_player = Err(SoundError::NoPlayer {
            cmd: "aplay".into(),
            why: "No such file or directory (os error 2)".into(),
        });
        assert_eq!(device_state(&no_player), SoundState::Failed);
        assert_eq!(device_state(&Ok(())), SoundState::Fine);
    }

    #[test]
    fn the_real_aplay_on_a_card_that_is_not_there_shows_the_device_missing() {
        let player = Player::new();
        let watch = player.watch();
        assert_eq!(watch.get(), SoundState::NotUsed);
        let mut config = SoundConfig::new("config/sounds");
        config.sink = Sink::Aplay {
            device: Some("hw:CARD=OtmetkaNoSuchCard".into()),
        };
        player.probe(&config);
        assert!(player.flush(Duration::from_secs(20)));
        assert_eq!(
            watch.get(),
            SoundState::Missing,
            "alsa-utils is installed by ./run; the card does not exist"
        );
        // A directory sink plays through no device: the state stays as it was.
        let out = tempfile::tempdir().unwrap();
        config.sink = Sink::Dir(out.path().to_path_buf());
        player.play(&prompt(None), &config);
        assert!(player.flush(Duration::from_secs(20)));
        assert_eq!(watch.get(), SoundState::Missing);
    }

    #[test]
    fn file_sink_writes_what_would_be_played() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/sounds");
        let out = tempfile::tempdir().unwrap();
        let mut c = SoundConfig::new(&root);
        c.sink = Sink::Dir(out.path().to_path_buf());
        c.volume = 0.5;
        c.speak_names = false;
        let player = Player::new();
        player.play(&prompt(Some("Мария Ивановна")), &c);
        assert!(player.flush(Duration::from_secs(30)));
        let mut names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["0001-tones-accepted.wav", "0002-ru-accepted.wav"]
        );
        let played = std::fs::read(out.path().join("0002-ru-accepted.wav")).unwrap();
        let orig = std::fs::read(root.join("ru/accepted.wav")).unwrap();
        assert_eq!(played, scale_wav(&orig, 0.5).unwrap());
    }
}
