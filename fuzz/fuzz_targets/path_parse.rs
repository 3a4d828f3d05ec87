//! Fuzz target: the Path Name parsers (every path in every request comes
//! from the network). Whatever parses must print as text that parses back
//! to the same AST; whatever fails must fail with 7008 at a valid offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usp_endpoint::path::{Path, PathError, RelPath};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let parsers: [fn(&str) -> Result<Path, PathError>; 3] =
        [Path::parse, Path::parse_supported, Path::parse_registration];
    for parse in parsers {
        match parse(src) {
            Ok(path) => {
                let printed = path.to_string();
                assert_eq!(parse(&printed).as_ref(), Ok(&path), "{src:?} printed as {printed:?}");
                let _ = (path.is_search(), path.supported_form());
            }
            Err(e) => {
                assert!(src.is_char_boundary(e.offset()), "{src:?}: offset {}", e.offset());
                assert_eq!(e.code().0, 7008);
                let _ = e.to_string();
            }
        }
    }
    if let Ok(rel) = RelPath::parse(src) {
        assert_eq!(RelPath::parse(&rel.to_string()), Ok(rel));
    }
});
