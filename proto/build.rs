//! Compiles the USP 1.4 schemas in `schema/` into prost types and their
//! proto3-JSON (serde) implementations. Uses `protox`, a pure-Rust protobuf
//! compiler, so no system `protoc` is needed.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["schema/usp-record-1-4.proto", "schema/usp-msg-1-4.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(files, ["schema"])?;
    let descriptor_bytes = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out.join("usp_descriptors.bin"), &descriptor_bytes)?;

    prost_build::Config::new()
        // Zero-copy byte fields: a payload decoded from a `Bytes` buffer is a
        // slice of it, not a copy.
        .bytes(["."])
        // Ordered maps: deterministic encoding and readable output.
        .btree_map(["."])
        .compile_fds(descriptors)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .btree_map(["."])
        .build(&[".usp", ".usp_record"])?;
    Ok(())
}
