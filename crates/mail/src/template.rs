//! Email templates: subject, plain text and HTML per language, embedded in the binary so that
//! a deployment can never miss a template file.
//!
//! The engine is deliberately tiny: `{{name}}` placeholders, nothing else (no loops, no
//! logic). Values are escaped for HTML in `.html` templates, and stripped of line breaks in
//! subjects. An unknown placeholder or a missing value is an error, never an empty string,
//! and the unit tests render every template, so a typo fails `cargo test`.

use serde_json::Value;
use std::collections::BTreeMap;

/// A language emails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Fr];

    /// Picks the language for a `preferredLanguage` tag by its primary subtag (`fr-CA` → fr);
    /// anything absent or unsupported gets English (product.md §2).
    pub fn from_tag(tag: Option<&str>) -> Language {
        let primary = tag.unwrap_or_default().trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("fr") { Language::Fr } else { Language::En }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }
}

/// A rendered email, ready to be put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub language: Language,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("unknown email template {0:?}")]
    UnknownTemplate(String),
    #[error("the payload lacks {0:?}")]
    MissingValue(&'static str),
    #[error("template {template}: {problem}")]
    BadTemplate { template: String, problem: String },
}

/// Subject, text and HTML sources of one template in one language.
struct Sources {
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

fn activation_sources(lang: Language) -> Sources {
    match lang {
        Language::En => Sources {
            subject: include_str!("../templates/activation/en/subject.txt"),
            text: include_str!("../templates/activation/en/body.txt"),
            html: include_str!("../templates/activation/en/body.html"),
        },
        Language::Fr => Sources {
            subject: include_str!("../templates/activation/fr/subject.txt"),
            text: include_str!("../templates/activation/fr/body.txt"),
            html: include_str!("../templates/activation/fr/body.html"),
        },
    }
}

/// Renders the outbox template `template` from its queued `payload`.
///
/// `activation` reads: `service`, `link`, `expires_at` (RFC 3339), `login`, and optionally
/// `given_name`, `family_name`, `display_name` (the greeting falls back to the login) and
/// `language` (a `preferredLanguage` tag).
pub fn render(template: &str, payload: &Value) -> Result<Rendered, RenderError> {
    match template {
        "activation" => render_activation(payload),
        other => Err(RenderError::UnknownTemplate(other.to_owned())),
    }
}

fn text<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn render_activation(payload: &Value) -> Result<Rendered, RenderError> {
    let language = Language::from_tag(text(payload, "language"));
    let login = text(payload, "login").ok_or(RenderError::MissingValue("login"))?;
    let service = text(payload, "service").ok_or(RenderError::MissingValue("service"))?;
    let link = text(payload, "link").ok_or(RenderError::MissingValue("link"))?;
    let expires_at = text(payload, "expires_at")
        .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .ok_or(RenderError::MissingValue("expires_at"))?;
    let full_name =
        [text(payload, "given_name"), text(payload, "family_name")].into_iter().flatten().collect::<Vec<_>>();
    let name = if full_name.is_empty() {
        text(payload, "display_name").unwrap_or(login).to_owned()
    } else {
        full_name.join(" ")
    };
    let values = BTreeMap::from([
        ("name", name),
        ("login", login.to_owned()),
        ("service", service.to_owned()),
        ("link", link.to_owned()),
        ("expires", format_date(expires_at, language)),
    ]);
    let src = activation_sources(language);
    Ok(Rendered {
        language,
        subject: fill("activation/subject", src.subject, &values, Escape::Subject)?,
        text: fill("activation/body.txt", src.text, &values, Escape::None)?,
        html: fill("activation/body.html", src.html, &values, Escape::Html)?,
    })
}

/// An expiry as people read it, in UTC: `19 December 2026, 15:52 UTC` /
/// `19 décembre 2026 à 15:52 UTC`.
pub fn format_date(t: time::OffsetDateTime, lang: Language) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    let month = usize::from(u8::from(t.month())) - 1;
    match lang {
        Language::En => format!("{} {} {}, {:02}:{:02} UTC", t.day(), EN[month], t.year(), t.hour(), t.minute()),
        Language::Fr => format!("{} {} {} à {:02}:{:02} UTC", t.day(), FR[month], t.year(), t.hour(), t.minute()),
    }
}

#[derive(Clone, Copy)]
enum Escape {
    None,
    Html,
    /// A header: one line, whatever the value holds.
    Subject,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{key}}` (spaces inside the braces allowed) with its escaped value.
fn fill(name: &str, source: &str, values: &BTreeMap<&str, String>, escape: Escape) -> Result<String, RenderError> {
    let bad = |problem: String| RenderError::BadTemplate { template: name.to_owned(), problem };
    let mut out = String::with_capacity(source.len() + 256);
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| bad("unclosed {{".to_owned()))?;
        let key = after[..end].trim();
        let value = values.get(key).ok_or_else(|| bad(format!("unknown placeholder {key:?}")))?;
        match escape {
            Escape::None => out.push_str(value),
            Escape::Html => out.push_str(&html_escape(value)),
            Escape::Subject => out.extend(value.chars().map(|c| if c.is_control() { ' ' } else { c })),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(match escape {
        Escape::Subject => out.trim().to_owned(),
        _ => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(language: &str) -> Value {
        json!({
            "login": "jane@example.com",
            "given_name": "Jane",
            "family_name": "Doe",
            "service": "Contoso MFA",
            "link": "https://mfa.example.com/activate?code=0123abcd",
            "expires_at": "2026-12-19T15:52:28.123Z",
            "language": language,
        })
    }

    #[test]
    fn english_by_default() {
        for tag in [None, Some(""), Some("de-DE"), Some("en-US"), Some("frisian")] {
            assert_eq!(Language::from_tag(tag), Language::En, "{tag:?}");
        }
        for tag in ["fr", "fr-CA", "FR-fr", "fr_BE"] {
            assert_eq!(Language::from_tag(Some(tag)), Language::Fr, "{tag}");
        }
    }

    #[test]
    fn renders_english() {
        let r = render("activation", &payload("en-US")).expect("render");
        assert_eq!(r.language, Language::En);
        assert_eq!(r.subject, "Activate your Contoso MFA account");
        assert!(r.text.starts_with("Hello Jane Doe,\n"));
        assert!(r.text.contains("\nhttps://mfa.example.com/activate?code=0123abcd\n"));
        assert!(r.text.contains("valid until 19 December 2026, 15:52 UTC."));
        assert!(r.html.contains(r#"<a href="https://mfa.example.com/activate?code=0123abcd""#));
        assert!(r.html.contains("<strong>jane@example.com</strong>"));
        assert!(!r.html.contains("{{") && !r.text.contains("{{"));
    }

    #[test]
    fn renders_french_for_fr_ca() {
        let r = render("activation", &payload("fr-CA")).expect("render");
        assert_eq!(r.language, Language::Fr);
        assert_eq!(r.subject, "Activez votre compte Contoso MFA");
        assert!(r.text.starts_with("Bonjour Jane Doe,\n"));
        assert!(r.text.contains("jusqu'au 19 décembre 2026 à 15:52 UTC."));
        assert!(r.html.contains(r#"<html lang="fr">"#));
        assert!(r.html.contains("Activer mon compte"));
    }

    #[test]
    fn html_escapes_names_and_subjects_stay_one_line() {
        let mut p = payload("en");
        p["given_name"] = json!("<script>alert('x')</script>");
        p["family_name"] = json!("\"Q\" & A");
        p["service"] = json!("Evil\r\nBcc: all@example.com");
        let r = render("activation", &p).expect("render");
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;Q&quot; &amp; A,"));
        // Plain text is not HTML: the name reads as written.
        assert!(r.text.starts_with("Hello <script>alert('x')</script> \"Q\" & A,"));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'), "{:?}", r.subject);
    }

    #[test]
    fn greeting_falls_back_to_display_name_then_login() {
        let mut p = payload("en");
        p.as_object_mut().map(|o| (o.remove("given_name"), o.remove("family_name")));
        p["display_name"] = json!("JD");
        assert!(render("activation", &p).expect("render").text.starts_with("Hello JD,"));
        p.as_object_mut().map(|o| o.remove("display_name"));
        assert!(render("activation", &p).expect("render").text.starts_with("Hello jane@example.com,"));
    }

    #[test]
    fn every_template_renders_without_leftovers() {
        for lang in Language::ALL {
            let r = render("activation", &payload(lang.code())).expect("render");
            for part in [&r.subject, &r.text, &r.html] {
                assert!(!part.contains("{{") && !part.contains("}}"), "{lang:?}: {part}");
            }
        }
    }

    #[test]
    fn missing_values_and_unknown_templates_are_errors() {
        let mut p = payload("en");
        p.as_object_mut().map(|o| o.remove("link"));
        assert_eq!(render("activation", &p), Err(RenderError::MissingValue("link")));
        assert!(matches!(render("welcome", &payload("en")), Err(RenderError::UnknownTemplate(_))));
        let values = BTreeMap::from([("a", "1".to_owned())]);
        assert!(fill("t", "{{ b }}", &values, Escape::None).is_err());
        assert!(fill("t", "{{ a", &values, Escape::None).is_err());
        assert_eq!(fill("t", "x{{ a }}y", &values, Escape::None).as_deref(), Ok("x1y"));
    }
}
