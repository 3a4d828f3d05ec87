//! Path Name syntax through the public API: every example path of
//! `shared/usp/paths.md` (§1–§5 and the worked examples of §7), and a table
//! of invalid inputs with the error kind and offset each must produce.

use usp_endpoint::path::{
    Constant, Construct, Dialect, Expected, Expr, Leaf, Op, Path, PathErrorKind, RefItem, RelPath, Segment,
    Selector, Term,
};
use usp_proto::ErrCode;

fn parse(src: &str) -> Path {
    match Path::parse(src) {
        Ok(path) => {
            // Every valid example is canonical text: it prints back as itself.
            assert_eq!(path.to_string(), src, "print(parse(s)) != s");
            path
        }
        Err(e) => panic!("{src}: {e}"),
    }
}

fn name(s: &str) -> Segment {
    Segment::Name(s.to_owned())
}

fn names(list: &[&str]) -> Vec<Segment> {
    list.iter().map(|s| name(s)).collect()
}

fn num(n: u32) -> Segment {
    Segment::Instance(Selector::Number(n))
}

fn search(terms: Vec<Term>) -> Segment {
    Segment::Instance(Selector::Search(Expr { terms }))
}

fn term(param: &str, op: Op, value: Constant) -> Term {
    Term { param: RelPath::parse(param).expect("valid relative path"), op, value }
}

fn quoted(s: &str) -> Constant {
    Constant::Quoted(s.to_owned())
}

fn bare(s: &str) -> Constant {
    Constant::Bare(s.to_owned())
}

fn param(s: &str) -> Leaf {
    Leaf::Param(s.to_owned())
}

fn iot(rest: Vec<Segment>) -> Vec<Segment> {
    let mut segments = names(&["Device", "IoTCapability"]);
    segments.extend(rest);
    segments
}

/// §1: one example of each kind of path.
#[test]
fn kinds_of_path_names() {
    let p = parse("Device.DeviceInfo.");
    assert_eq!((p.segments, p.leaf), (names(&["Device", "DeviceInfo"]), Leaf::Object));
    let p = parse("Device.LocalAgent.Subscription.");
    assert_eq!((p.segments, p.leaf), (names(&["Device", "LocalAgent", "Subscription"]), Leaf::Object));
    let p = parse("Device.LocalAgent.Controller.3.");
    assert!(p.is_instance_path());
    assert_eq!(p.segments[3], num(3));
    let p = parse("Device.DeviceInfo.FriendlyName");
    assert_eq!(p.leaf, param("FriendlyName"));
    let p = parse("Device.IoTCapability.3.BinaryControl.Toggle()");
    assert_eq!(
        (p.segments, p.leaf),
        (iot(vec![num(3), name("BinaryControl")]), Leaf::Command("Toggle".into()))
    );
    let p = parse("Device.Boot!");
    assert_eq!((p.segments, p.leaf), (names(&["Device"]), Leaf::Event("Boot".into())));
    let p = parse("Device.LocalAgent.Threshold.1.Triggered!");
    assert_eq!(p.leaf, Leaf::Event("Triggered".into()));
    let p = parse(r#"Device.IP.Interface.[Type=="Normal"].Status"#);
    assert!(p.is_search());
    assert_eq!(p.segments[3], search(vec![term("Type", Op::Eq, quoted("Normal"))]));
}

/// §1: a reference parameter's value omits the trailing dot; as a path it is
/// invalid until the resolver adds it.
#[test]
fn reference_values_need_the_trailing_dot_added() {
    let e = Path::parse("Device.IP.Interface.1").unwrap_err();
    assert_eq!(e.kind(), &PathErrorKind::Unexpected { found: None, expected: Expected::Dot });
    assert_eq!(e.offset(), 21);
    parse("Device.IP.Interface.1.");
    // §5: key-based addressing in a reference value, once the dot is added.
    assert!(Path::parse(r#"Object.FooObject.[KeyParam=="v"]"#).is_err());
    let p = parse(r#"Object.FooObject.[KeyParam=="v"]."#);
    assert_eq!(p.segments[2], search(vec![term("KeyParam", Op::Eq, quoted("v"))]));
}

/// §2: mixed instance styles, vendor names, the unquoted-constant
/// relaxation and the reference-hop relaxation.
#[test]
fn grammar_examples() {
    let p = parse(r#"Device.IP.Interface.[Name=="eth0"].IPv4Address.*.IPAddress"#);
    assert_eq!(p.segments[5], Segment::Instance(Selector::Wildcard));
    let p = parse("Device.X_00256D_Foo.X_00256D_Bar");
    assert_eq!(p.segments[1], name("X_00256D_Foo"));
    let p = parse("Device.IP.Interface.1.IPv6Address.[ValidLifetime<2021-06-06T08:00:00Z].");
    assert_eq!(p.segments[5], search(vec![term("ValidLifetime", Op::Lt, bare("2021-06-06T08:00:00Z"))]));
    let p = parse("Device.USB.USBHosts.Host.*.Device.[DeviceClass==08].");
    assert_eq!(p.segments[6], search(vec![term("DeviceClass", Op::Eq, bare("08"))]));
    let p = parse("Device.IoTCapability.[LevelSensor.Value>20.5].Name");
    assert_eq!(p.segments[2], search(vec![term("LevelSensor.Value", Op::Gt, bare("20.5"))]));
    let p = parse("Device.NAT.PortMapping.1.Interface+.Name");
    assert_eq!(
        p.segments,
        vec![
            name("Device"),
            name("NAT"),
            name("PortMapping"),
            num(1),
            Segment::Reference { name: "Interface".into(), item: RefItem::First }
        ]
    );
    assert_eq!(p.leaf, param("Name"));
}

/// §3: Supported-DM and Register paths.
#[test]
fn supported_data_model_examples() {
    for src in [
        "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.",
        "Device.WiFi.AccessPoint.{i}.AssociatedDevice.",
        "Device.WiFi.AccessPoint.1.AssociatedDevice.",
        "Device.IoTCapability.{i}.LevelSensor.",
    ] {
        let p = Path::parse_supported(src).unwrap();
        assert_eq!(p.to_string(), src);
    }
    let p = Path::parse_supported("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.").unwrap();
    assert_eq!(p.segments[3], Segment::Instance(Selector::AnyInstance));
    // The instantiated form is also a valid instantiated path ...
    parse("Device.WiFi.AccessPoint.1.AssociatedDevice.");
    // ... but `{i}` never is.
    let e = Path::parse("Device.WiFi.AccessPoint.{i}.AssociatedDevice.").unwrap_err();
    assert_eq!(
        e.kind(),
        &PathErrorKind::NotAllowed { construct: Construct::AnyInstance, dialect: Dialect::Instantiated }
    );
    // Register: no instance numbers, no `{i}`.
    assert!(Path::parse_registration("Device.WiFi.AccessPoint.").is_ok());
    assert!(Path::parse_registration("Device.WiFi.AccessPoint.1.AssociatedDevice.").is_err());
    assert!(Path::parse_registration("Device.WiFi.AccessPoint.{i}.AssociatedDevice.").is_err());
}

/// §4: unique keys and expression parameters.
#[test]
fn instance_identifier_examples() {
    let p = parse(r#"Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"]."#);
    assert_eq!(
        p.segments[3],
        search(vec![
            term("RemoteHost", Op::Eq, quoted("")),
            term("ExternalPort", Op::Eq, bare("0")),
            term("Protocol", Op::Eq, quoted("TCP")),
        ])
    );
    let p = parse("Device.WiFi.SSID.[Stats.ErrorsSent>0].");
    assert_eq!(p.segments[3], search(vec![term("Stats.ErrorsSent", Op::Gt, bare("0"))]));
    let p = parse("Device.IoTCapability.[LevelSensor.Value>20].Name");
    assert_eq!(p.segments[2], search(vec![term("LevelSensor.Value", Op::Gt, bare("20"))]));
    assert_eq!(
        RelPath::parse("Stats.ErrorsSent").unwrap(),
        RelPath { objects: names(&["Stats"]), param: "ErrorsSent".into() }
    );
    // `~=` for list-valued parameters.
    let p =
        parse(r#"Device.LocalAgent.Controller.[AssignedRole~="Device.LocalAgent.ControllerTrust.Role.1"]."#);
    assert_eq!(
        p.segments[3],
        search(vec![term("AssignedRole", Op::Contains, quoted("Device.LocalAgent.ControllerTrust.Role.1"))])
    );
}

/// §5: reference following in object paths and in expressions.
#[test]
fn reference_following_examples() {
    let p = parse(
        r#"Device.WiFi.AccessPoint.[SSIDReference+.SSID=="MyHome"].AssociatedDevice.[OperatingStandard=="ac"].SignalStrength"#,
    );
    let Segment::Instance(Selector::Search(expr)) = &p.segments[3] else { panic!("{p:?}") };
    assert_eq!(
        expr.terms[0].param,
        RelPath {
            objects: vec![Segment::Reference { name: "SSIDReference".into(), item: RefItem::First }],
            param: "SSID".into()
        }
    );
    assert_eq!(p.segments[5], search(vec![term("OperatingStandard", Op::Eq, quoted("ac"))]));
    assert_eq!(p.leaf, param("SignalStrength"));
}

/// §7, every worked example's path, with the AST the resolver gets.
#[test]
fn worked_examples() {
    // #1
    let p = parse("Device.IoTCapability.1.LevelSensor.Value");
    assert_eq!((p.segments, p.leaf), (iot(vec![num(1), name("LevelSensor")]), param("Value")));
    // #2, #3
    let p = parse(r#"Device.IoTCapability.[Name=="r101-temp"].LevelSensor."#);
    assert_eq!(
        p.segments,
        iot(vec![search(vec![term("Name", Op::Eq, quoted("r101-temp"))]), name("LevelSensor")])
    );
    assert_eq!(p.leaf, Leaf::Object);
    let p = parse(r#"Device.IoTCapability.[Name=="r101-temp"]."#);
    assert!(p.is_instance_path());
    // #4
    let p = parse(r#"Device.IoTCapability.[Class=="LevelControl"].LevelControl.Value"#);
    assert_eq!(p.supported_form().as_deref(), Some("Device.IoTCapability.{i}.LevelControl.Value"));
    // #5
    let p = parse(
        r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Unit=="degC"].LevelControl.Value"#,
    );
    assert_eq!(
        p.segments[2],
        search(vec![
            term("Class", Op::Eq, quoted("LevelControl")),
            term("LevelControl.Unit", Op::Eq, quoted("degC")),
        ])
    );
    // #6
    let p = parse("Device.IoTCapability.*.BinarySensor.Value");
    assert!(p.is_search());
    assert_eq!(p.segments[2], Segment::Instance(Selector::Wildcard));
    // #7
    assert!(parse(r#"Device.IoTCapability.[Name=="r999"].Name"#).is_search());
    // #8, #9: valid syntax; absence and 7026 are the resolver's business.
    assert!(!parse("Device.IoTCapability.9.Name").is_search());
    assert_eq!(parse("Device.IoTCapability.1.Foo").leaf, param("Foo"));
    // #11
    let p = parse("Device.IoTCapability.[LevelControl.Value>=21.5].Name");
    assert_eq!(p.segments[2], search(vec![term("LevelControl.Value", Op::Ge, bare("21.5"))]));
    // #12
    let p = parse(
        r#"Device.LocalAgent.Subscription.[ID=="occ-r101"&&Recipient=="Device.LocalAgent.Controller.1"].Enable"#,
    );
    assert_eq!(
        p.segments[3],
        search(vec![
            term("ID", Op::Eq, quoted("occ-r101")),
            term("Recipient", Op::Eq, quoted("Device.LocalAgent.Controller.1")),
        ])
    );
    // #13
    let p = parse("Device.LocalAgent.Subscription.7.Recipient+.EndpointID");
    assert_eq!(p.segments[4], Segment::Reference { name: "Recipient".into(), item: RefItem::First });
    assert_eq!(p.leaf, param("EndpointID"));
    assert_eq!(p.supported_form(), None);
    // #14, all three hop forms
    for (src, item) in [
        ("Device.LocalAgent.Controller.1.AssignedRole#2+.Name", RefItem::Index(2)),
        ("Device.LocalAgent.Controller.1.AssignedRole#*+.Name", RefItem::All),
        ("Device.LocalAgent.Controller.1.AssignedRole+.Name", RefItem::First),
    ] {
        let p = parse(src);
        assert_eq!(p.segments[4], Segment::Reference { name: "AssignedRole".into(), item });
        assert_eq!(p.is_search(), item == RefItem::All, "{src}");
    }
    // #15
    let p = parse(r#"Device.IoTCapability.[Class=="BinaryControl"].BinaryControl."#);
    assert!(p.is_object() && !p.is_instance_path());
    assert_eq!(RelPath::parse("Value").unwrap(), RelPath { objects: vec![], param: "Value".into() });
    // #16, #17
    let p = parse(r#"Device.IoTCapability.[Class=="BinaryControl"].BinaryControl.Toggle()"#);
    assert!(p.is_command());
    assert_eq!(p.leaf_name(), Some("Toggle"));
    assert!(parse(r#"Device.IoTCapability.[Class=="Nope"].BinaryControl.Toggle()"#).is_search());
    // #18, #19: GetSupportedDM.
    let a = Path::parse_supported("Device.IoTCapability.{i}.LevelControl.").unwrap();
    let b = Path::parse_supported("Device.IoTCapability.4.LevelControl.").unwrap();
    assert_eq!(a.supported_form(), b.supported_form());
    assert_eq!(a.supported_form().as_deref(), Some("Device.IoTCapability.{i}.LevelControl."));
    assert!(
        Path::parse_supported("Device.IoTCapability.LevelControl.").is_ok(),
        "7026 is for the schema check"
    );
    let p = Path::parse_supported("Device.IoTCapability.{i}.LevelControl.StepUp()").unwrap();
    assert!(p.is_command());
    // #20
    assert!(!parse("Device.IoTCapability.").is_instance_path());
    // #21
    let p = parse(r#"Device.IoTCapability.[Name=="r101-occ"].BinarySensor.Value"#);
    assert!(p.is_search() && p.is_param());
}

/// §7 #10: `=` is a syntax error; an unquoted string constant and `<` on a
/// string parse, and fail later when typed against the schema.
#[test]
fn worked_example_10() {
    let e = Path::parse(r#"Device.IoTCapability.[Name="r101-temp"].Name"#).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&PathErrorKind::SingleEquals, 26));
    assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
    let p = parse("Device.IoTCapability.[Name==r101-temp].Name");
    assert_eq!(p.segments[2], search(vec![term("Name", Op::Eq, bare("r101-temp"))]));
    let p = parse(r#"Device.IoTCapability.[Class<"Level"].Name"#);
    assert_eq!(p.segments[2], search(vec![term("Class", Op::Lt, quoted("Level"))]));
}

/// R-ARC.9a: whitespace around operators is tolerated and dropped.
#[test]
fn whitespace_inside_expressions() {
    let spaced =
        Path::parse(r#"Device.IoTCapability.[ Class == "LevelControl" && LevelControl.Unit=="degC" ].Name"#)
            .unwrap();
    assert_eq!(
        spaced,
        parse(r#"Device.IoTCapability.[Class=="LevelControl"&&LevelControl.Unit=="degC"].Name"#)
    );
}

#[test]
fn invalid_paths() {
    use PathErrorKind as K;
    let unexpected = |found, expected| K::Unexpected { found, expected };
    let table: Vec<(&str, PathErrorKind, usize)> = vec![
        ("", K::Empty, 0),
        ("Device", unexpected(None, Expected::Dot), 6),
        ("Device+.Name", unexpected(Some('+'), Expected::Dot), 6),
        (".Device.", K::ExpectedName { found: Some('.') }, 0),
        (" Device.", K::ExpectedName { found: Some(' ') }, 0),
        ("1Device.", K::NameStartsWithDigit, 0),
        ("Device..Name", K::ExpectedName { found: Some('.') }, 7),
        ("Device.DeviceInfo..", K::ExpectedName { found: Some('.') }, 18),
        ("Device.\nName", K::ExpectedName { found: Some('\n') }, 7),
        ("Device.DeviceInfo.FriendlyName ", unexpected(Some(' '), Expected::AfterName), 30),
        ("Device.Foo-Bar.", unexpected(Some('-'), Expected::AfterName), 10),
        ("Device.Ioté.", unexpected(Some('é'), Expected::AfterName), 10),
        ("Device.1abc.Name", K::NameStartsWithDigit, 7),
        ("Device.IoTCapability.1.2G.Enable", K::NameStartsWithDigit, 23),
        // instance numbers
        ("Device.IoTCapability.0.Name", K::ZeroNumber, 21),
        ("Device.IoTCapability.01.Name", K::LeadingZero, 21),
        ("Device.IoTCapability.007.", K::LeadingZero, 21),
        ("Device.IoTCapability.4294967296.", K::NumberTooLarge, 21),
        ("Device.IoTCapability.-1.", K::ExpectedName { found: Some('-') }, 21),
        ("Device.IoTCapability.+1.", K::ExpectedName { found: Some('+') }, 21),
        // missing dots around selectors
        ("Device.IoTCapability.1", unexpected(None, Expected::Dot), 22),
        ("Device.IoTCapability.1Name", K::NameStartsWithDigit, 21),
        ("Device.IoTCapability.*", unexpected(None, Expected::Dot), 22),
        ("Device.IoTCapability.*Name", unexpected(Some('N'), Expected::Dot), 22),
        (r#"Device.IoTCapability[Name=="x"]."#, unexpected(Some('['), Expected::AfterName), 20),
        ("Device.IoTCapability*.", unexpected(Some('*'), Expected::AfterName), 20),
        ("Device.X.[A==1]", unexpected(None, Expected::Dot), 15),
        (r#"Device.IoTCapability.[Name=="x"]x"#, unexpected(Some('x'), Expected::Dot), 32),
        (r#"Device.X.[A==1]&&[B==2]."#, unexpected(Some('&'), Expected::Dot), 15),
        // misplaced selectors
        ("Device.1.", K::MisplacedInstance, 7),
        ("Device.*.", K::MisplacedInstance, 7),
        ("Device.IoTCapability.1.2.", K::MisplacedInstance, 23),
        ("Device.IoTCapability.1.*.", K::MisplacedInstance, 23),
        ("Device.A.Ref+.1.", K::MisplacedInstance, 14),
        // `{i}` belongs to Supported-DM paths
        (
            "Device.IoTCapability.{i}.Name",
            K::NotAllowed { construct: Construct::AnyInstance, dialect: Dialect::Instantiated },
            21,
        ),
        (
            "Device.{i}.",
            K::NotAllowed { construct: Construct::AnyInstance, dialect: Dialect::Instantiated },
            7,
        ),
        // commands and events
        ("Device.Reboot(", unexpected(None, Expected::CloseParen), 14),
        ("Device.Reboot(x)", unexpected(Some('x'), Expected::CloseParen), 14),
        ("Device.Reboot()x", unexpected(Some('x'), Expected::End), 15),
        ("Device.Reboot().", unexpected(Some('.'), Expected::End), 15),
        ("Device.Boot!!", unexpected(Some('!'), Expected::End), 12),
        ("Device.Boot!.Name", unexpected(Some('.'), Expected::End), 12),
        // reference hops
        ("Device.A.Ref+", unexpected(None, Expected::Dot), 13),
        ("Device.A.Ref+Name", unexpected(Some('N'), Expected::Dot), 13),
        ("Device.A.Ref#0+.Name", K::ZeroNumber, 13),
        ("Device.A.Ref#01+.Name", K::LeadingZero, 13),
        ("Device.A.Ref#+.Name", unexpected(Some('+'), Expected::RefIndex), 13),
        ("Device.A.Ref#2.Name", unexpected(Some('.'), Expected::Plus), 14),
        ("Device.A.Ref#*.Name", unexpected(Some('.'), Expected::Plus), 14),
        ("Device.A.Ref++.Name", unexpected(Some('+'), Expected::Dot), 13),
        // search expressions
        ("Device.IoTCapability.[].", K::EmptyExpression, 21),
        ("Device.IoTCapability.[ ].", K::EmptyExpression, 21),
        (r#"Device.IoTCapability.[Name=="a"||Name=="b"]."#, K::OrOperator, 31),
        (r#"Device.IoTCapability.[Name="r101-temp"].Name"#, K::SingleEquals, 26),
        (r#"Device.IoTCapability.[Name=="x].Name"#, K::UnterminatedLiteral, 28),
        (r#"Device.IoTCapability.[Name=="x""#, K::UnterminatedExpression, 21),
        (r#"Device.IoTCapability.[Name=="x"."#, unexpected(Some('.'), Expected::AndOrClose), 31),
        ("Device.IoTCapability.[Name==x", K::UnterminatedExpression, 21),
        ("Device.IoTCapability.[", K::UnterminatedExpression, 21),
        ("Device.IoTCapability.[Name].", unexpected(Some(']'), Expected::Operator), 26),
        ("Device.IoTCapability.[Value>].", K::MissingConstant, 28),
        (r#"Device.IoTCapability.[Name=="x"&&]."#, K::ExpectedName { found: Some(']') }, 33),
        (r#"Device.IoTCapability.[(Name=="x")]."#, K::ExpectedName { found: Some('(') }, 22),
        (r#"Device.IoTCapability.[Name=="x" Class=="y"]."#, unexpected(Some('C'), Expected::AndOrClose), 32),
        ("Device.IoTCapability.[Stats.1.X==1].", K::NameStartsWithDigit, 28),
        ("Device.IoTCapability.[Name==a b].", unexpected(Some('b'), Expected::AndOrClose), 30),
        (r#"Device.IoTCapability.[Name=="a"]]."#, unexpected(Some(']'), Expected::Dot), 32),
        (r#"Device.IoTCapability.[[Name=="a"]]."#, K::ExpectedName { found: Some('[') }, 22),
    ];
    for (src, kind, offset) in table {
        let e = match Path::parse(src) {
            Ok(p) => panic!("{src:?} parsed as {p:?}"),
            Err(e) => e,
        };
        assert_eq!((e.kind(), e.offset()), (&kind, offset), "{src:?}: {e}");
        assert_eq!(e.code(), ErrCode::INVALID_PATH_SYNTAX);
        assert!(e.to_string().starts_with(&format!("invalid path syntax at byte {offset}: ")));
    }
}
