//! `./run bench`.
fn main() {
    println!("otmetka bench: nothing yet");
}
