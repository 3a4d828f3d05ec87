//! Controller core bench (filled in below).
fn main() {}
