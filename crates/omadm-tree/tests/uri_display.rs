//! The canonical form of a URI (`Display`) against a plain model of its escaping: unreserved
//! ASCII and non-ASCII characters as they are, every other ASCII byte as `%XX`; and parsing the
//! canonical form gives the same URI back.

use omadm_tree::Uri;
use proptest::prelude::*;

const MARKS: &str = ":@&=+$,-_!~*'().";

fn model(segments: &[String]) -> String {
    let mut out = String::from(".");
    for s in segments {
        out.push('/');
        for ch in s.chars() {
            if !ch.is_ascii() || ch.is_ascii_alphanumeric() || MARKS.contains(ch) {
                out.push(ch);
            } else {
                out.push_str(&format!("%{:02X}", ch as u32));
            }
        }
    }
    out
}

fn segment() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 %#?:@&=+$,\\-_!~*'().é€\u{1F600}\"<>\\\\]{1,8}")
        .unwrap()
        .prop_filter("a valid segment", |s| s != "." && s != "..")
}

proptest! {
    #[test]
    fn display_matches_the_model_and_parses_back(segments in proptest::collection::vec(segment(), 0..5)) {
        let mut uri = Uri::root();
        for s in &segments {
            uri = uri.child(s).unwrap();
        }
        let text = uri.to_string();
        prop_assert_eq!(&text, &model(&segments));
        prop_assert_eq!(Uri::parse(&text).unwrap(), uri);
    }
}

#[test]
fn fixed_examples() {
    let uri = Uri::root().child("A B").unwrap().child("c.d").unwrap().child("50%").unwrap().child("Café").unwrap();
    assert_eq!(uri.to_string(), "./A%20B/c.d/50%25/Café");
    assert_eq!(Uri::root().to_string(), ".");
}
