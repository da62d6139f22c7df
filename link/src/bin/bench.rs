//! How fast a real Mosquitto delivers QoS 1 messages of about 400 bytes (the size of a unit of
//! service on the wire) from one publisher with a window of in-flight messages to one subscriber
//! that discards them. Prints the figures; asserts nothing.
//!
//! `cargo run --release -p otmetka-link --features testing --bin otmetka-link-bench --
//!  [--messages N] [--window W] [--payload BYTES]`

use std::error::Error;
use std::time::Duration;

use otmetka_link::testing::Broker;
use otmetka_link::{Client, ClientOptions, Event, QoS};

fn arg(args: &[String], name: &str, default: usize) -> Result<usize, Box<dyn Error>> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()?),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let messages = arg(&args, "--messages", 50_000)?;
    let window = u16::try_from(arg(&args, "--window", 100)?)?;
    let payload_len = arg(&args, "--payload", 400)?;

    // The broker may hold as many messages for the subscriber as we send.
    let broker = Broker::start_quiet(&format!(
        "max_queued_messages {}\nmax_inflight_messages 100\n",
        messages + 1000
    ))?;

    let (sub, mut sub_events) =
        Client::start(ClientOptions::new("127.0.0.1", broker.port, "bench-sub"))?;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), sub_events.recv()).await? {
            Some(Event::Connected { .. }) => break,
            Some(_) => {}
            None => return Err("subscriber stopped".into()),
        }
    }
    sub.subscribe(&[("bench/#", QoS::AtLeastOnce)])
        .await?
        .wait()
        .await?;
    let receiver = tokio::spawn(async move {
        let mut received = 0usize;
        let mut first = None;
        while received < messages {
            match sub_events.recv().await {
                Some(Event::Message(m)) => {
                    first.get_or_insert_with(tokio::time::Instant::now);
                    std::hint::black_box(m.payload);
                    received += 1;
                }
                Some(_) => {}
                None => break,
            }
        }
        (received, tokio::time::Instant::now())
    });

    let mut opts = ClientOptions::new("127.0.0.1", broker.port, "bench-pub");
    opts.session.max_inflight = window;
    let (publ, mut pub_events) = Client::start(opts)?;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), pub_events.recv()).await? {
            Some(Event::Connected { .. }) => break,
            Some(_) => {}
            None => return Err("publisher stopped".into()),
        }
    }
    let payload = bytes::Bytes::from(vec![b'x'; payload_len]);
    let start = tokio::time::Instant::now();
    let mut tokens = std::collections::VecDeque::new();
    for i in 0..messages {
        tokens.push_back(
            publ.publish(
                format!("bench/{}", i % 10),
                payload.clone(),
                QoS::AtLeastOnce,
                false,
            )
            .await?,
        );
        // Keep the token queue short; the session's window limits what is on the wire.
        if tokens.len() > usize::from(window) * 4 {
            if let Some(t) = tokens.pop_front() {
                t.wait().await?;
            }
        }
    }
    for t in tokens {
        t.wait().await?;
    }
    let acked = start.elapsed();
    let (received, done) = tokio::time::timeout(Duration::from_secs(600), receiver).await??;
    let delivered = done.duration_since(start);
    let rate = received as f64 / delivered.as_secs_f64();
    println!(
        "QoS 1, {payload_len} B payload, window {window}: {received}/{messages} messages delivered \
         in {:.2} s = {rate:.0} msg/s ({:.1} MB/s payload); all PUBACKs after {:.2} s",
        delivered.as_secs_f64(),
        rate * payload_len as f64 / 1e6,
        acked.as_secs_f64(),
    );
    publ.disconnect().await?;
    sub.disconnect().await?;
    Ok(())
}
