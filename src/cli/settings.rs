//! `PATH=VALUE` and `NAME=VALUE` arguments.
//!
//! A parameter path may hold a search expression with `=` and `.` of its
//! own (`Device.Node.2.IoTCapability.[Name=="r101-light-dim"].LevelControl.Value=70`),
//! so the separator is the first `=` outside `[…]` (and outside a quoted
//! constant inside it); the object is everything up to the last `.` outside
//! `[…]`. The value is the rest of the argument, as is (it may contain `=`).

/// One `OBJECT.PARAM=VALUE` setting of `uspmesh set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The object path, ending in `.`.
    pub(crate) object: String,
    /// The parameter name (relative to the object).
    pub(crate) param: String,
    /// The value.
    pub(crate) value: String,
}

/// Byte positions of `.` and `=` outside search expressions, in order.
fn separators(text: &str) -> Vec<(usize, u8)> {
    let mut depth = 0u32;
    let mut quoted = false;
    let mut found = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' if depth > 0 => quoted = !quoted,
            b'[' if !quoted => depth += 1,
            b']' if !quoted => depth = depth.saturating_sub(1),
            b'.' | b'=' if depth == 0 => found.push((i, b)),
            _ => {}
        }
    }
    found
}

/// Parses `OBJECT.PARAM=VALUE` (see the module documentation).
pub(crate) fn setting(text: &str) -> Result<Setting, String> {
    let seps = separators(text);
    let eq = seps
        .iter()
        .find(|(_, b)| *b == b'=')
        .map(|(i, _)| *i)
        .ok_or_else(|| format!("{text:?} is not PATH=VALUE"))?;
    let (path, value) = (&text[..eq], &text[eq + 1..]);
    let dot =
        seps.iter().filter(|(i, b)| *b == b'.' && *i < eq).map(|(i, _)| *i).next_back().ok_or_else(|| {
            format!("{path:?} is not OBJECT.PARAM (e.g. Device.Node.2.IoTCapability.1.BinaryControl.Value)")
        })?;
    let (object, param) = (&path[..=dot], &path[dot + 1..]);
    if param.is_empty() {
        return Err(format!("{path:?} names an object, not a parameter"));
    }
    Ok(Setting { object: object.to_owned(), param: param.to_owned(), value: value.to_owned() })
}

/// Parses `NAME=VALUE` (an Add parameter, which may be a relative path
/// such as `LevelControl.Value`, or a command argument).
pub(crate) fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// Settings grouped by object, objects in their first order, parameters
/// in argument order.
pub(crate) fn by_object(settings: &[Setting]) -> Vec<(&str, Vec<&Setting>)> {
    let mut groups: Vec<(&str, Vec<&Setting>)> = Vec::new();
    for s in settings {
        match groups.iter_mut().find(|(o, _)| *o == s.object) {
            Some((_, items)) => items.push(s),
            None => groups.push((&s.object, vec![s])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(object: &str, param: &str, value: &str) -> Setting {
        Setting { object: object.into(), param: param.into(), value: value.into() }
    }

    #[test]
    fn plain_and_searched_paths() {
        assert_eq!(
            setting("Device.Node.2.IoTCapability.2.LevelControl.Value=70"),
            Ok(s("Device.Node.2.IoTCapability.2.LevelControl.", "Value", "70"))
        );
        assert_eq!(
            setting(r#"Device.Node.2.IoTCapability.[Name=="r101-light-dim"].LevelControl.Value=70"#),
            Ok(s(r#"Device.Node.2.IoTCapability.[Name=="r101-light-dim"].LevelControl."#, "Value", "70"))
        );
        assert_eq!(
            setting(r#"Device.X.[Name=="a.b]=c"].Note=x=y.z"#),
            Ok(s(r#"Device.X.[Name=="a.b]=c"]."#, "Note", "x=y.z"))
        );
        assert_eq!(setting("Device.X.Name="), Ok(s("Device.X.", "Name", "")));
        assert!(setting("Device.X.Name").unwrap_err().contains("PATH=VALUE"));
        assert!(setting("Name=1").unwrap_err().contains("OBJECT.PARAM"));
        assert!(setting("Device.X.=1").unwrap_err().contains("names an object"));
    }

    #[test]
    fn names_and_groups() {
        assert_eq!(name_value("ID=a=b"), Ok(("ID".into(), "a=b".into())));
        assert!(name_value("=x").is_err());
        assert!(name_value("x").is_err());
        let list = [s("Device.A.", "X", "1"), s("Device.B.", "Y", "2"), s("Device.A.", "Z", "3")];
        let groups = by_object(&list);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "Device.A.");
        assert_eq!(groups[0].1.iter().map(|s| s.param.as_str()).collect::<Vec<_>>(), ["X", "Z"]);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = setting(&text);
            let _ = name_value(&text);
        }

        #[test]
        fn splits_where_it_was_joined(
            object in "Device(\\.[A-Za-z][A-Za-z0-9]{0,6}|\\.[1-9][0-9]{0,2}|\\.\\[Name==\"[a-z.=\\]\\[]{0,6}\"\\]){1,4}\\.",
            param in "[A-Za-z][A-Za-z0-9]{0,8}",
            value in "\\PC{0,12}",
        ) {
            let parsed = setting(&format!("{object}{param}={value}")).unwrap();
            prop_assert_eq!(parsed, Setting { object, param, value });
        }
    }
}
