use super::*;

#[test]
fn positions_count_lines_and_characters() {
    let l = Lines::new("ab\n°C = 1\r\nx");
    assert_eq!(l.position(0), (1, 1));
    assert_eq!(l.position(3), (2, 1));
    // `°` is two bytes but one column.
    assert_eq!(l.position(6), (2, 3));
    assert_eq!(l.position(12), (3, 1));
    assert_eq!(l.position(999), (3, 2), "past the end: the end");
}

#[test]
fn rules_keep_their_file_order_across_files() {
    let set = load(&[
        Source::new(
            "b.toml",
            "[rule.zeta]\nwhen = { schedule = \"22:00\" }\n[rule.alpha]\nwhen = { schedule = \"22:00\" }\n",
        ),
        Source::new("a.toml", "[rule.mid]\nwhen = { schedule = \"22:00\" }\n"),
    ])
    .unwrap();
    assert_eq!(set.names().collect::<Vec<_>>(), vec!["zeta", "alpha", "mid"]);
    let e = load(&[Source::new("c.toml", "[rule.x]\nwhen = { signal = \"zeta\" }\n")]).unwrap_err();
    assert_eq!(e.to_string(), "c.toml:2:19: unknown rule \"zeta\"");
}
