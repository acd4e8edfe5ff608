//! Which media URLs from the network are safe to put in `src`/`href` attributes.

/// True for a media URL a page may load or link to: relative URLs and `http:`, `https:`,
/// `blob:` and raster `data:image/…` ones. Anything else (`javascript:`, `vbscript:`,
/// `data:text/html`, SVG data, unknown schemes) is refused. The scheme is read the way
/// browsers' URL parsers read it: tabs and newlines anywhere are ignored, and leading
/// or trailing spaces and control characters are trimmed.
pub fn is_safe_media_url(url: &str) -> bool {
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some((scheme, rest)) = cleaned.split_once(':') else {
        return true;
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        // A colon after a path, query or fragment character: a relative URL.
        return scheme.contains(['/', '?', '#']);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" | "blob" => true,
        "data" => {
            let media_type = rest.split([';', ',']).next().unwrap_or_default();
            let media_type = media_type.to_ascii_lowercase();
            media_type.starts_with("image/") && media_type != "image/svg+xml"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_and_relative_urls_are_safe() {
        for url in [
            "https://cdn.example/a.png",
            "HTTP://x/y",
            "/media/1.png",
            "media/a:b.png",
            "?q=1:2",
            "blob:https://app.example/1234",
            "data:image/png;base64,iVBOR",
            " https://x/",
        ] {
            assert!(is_safe_media_url(url), "{url}");
        }
    }

    #[test]
    fn script_and_document_schemes_are_refused_however_disguised() {
        for url in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "\u{1}javascript:alert(1)",
            " javascript:alert(1)",
            "vbscript:msgbox",
            "data:text/html,<script>alert(1)</script>",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "file:///etc/passwd",
            "x-unknown:thing",
        ] {
            assert!(!is_safe_media_url(url), "{url:?}");
        }
    }
}
