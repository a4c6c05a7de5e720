//! The HTML login page (one button per user, plus Cancel) and the error page.
//! Small, plain and accessible: real buttons in a real form, a labelled
//! landmark, visible focus, no JavaScript.

use idp_html::escape;

use crate::{AuthRequest, User};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a;background:#fff}\
h1{font-size:1.4rem}p.note{color:#555;font-size:.9rem}\
button{display:block;width:100%;margin:.5rem 0;padding:.7rem;font-size:1rem;border:1px solid #1a4d8f;border-radius:.3rem;background:#1a4d8f;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1a4d8f}\
button:focus-visible{outline:3px solid #f0a000;outline-offset:2px}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head>\
<body><main aria-labelledby=\"title\">{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// How a user is shown on their button: `Alice (alice@example.test)`.
fn user_label(user: &User) -> String {
    let name = user.name.as_deref().unwrap_or(&user.sub);
    match &user.email {
        Some(email) => format!("{name} ({email})"),
        None => name.to_owned(),
    }
}

/// The login page for a pending authorization request.
pub(crate) fn login_page(request_id: &str, users: &[User], request: &AuthRequest) -> String {
    let mut body = String::from("<h1 id=\"title\">Mock OpenID Provider: sign in</h1>");
    body.push_str(
        "<p class=\"note\">Development provider. Choose a test user; no password is asked.</p>",
    );
    let hint = request.login_hint.as_deref().unwrap_or_default();
    if !hint.is_empty() {
        body.push_str(&format!(
            "<p class=\"note\" role=\"status\">No user matches the login hint \u{201c}{}\u{201d}.</p>",
            escape(hint)
        ));
    }
    body.push_str(&format!(
        "<p class=\"note\">You will return to {}.</p>",
        escape(&request.redirect_uri)
    ));
    body.push_str("<form method=\"post\" action=\"/authorize/login\">");
    body.push_str(&format!(
        "<input type=\"hidden\" name=\"request_id\" value=\"{}\">",
        escape(request_id)
    ));
    body.push_str(
        "<fieldset style=\"border:0;padding:0;margin:0\"><legend class=\"note\">Users</legend>",
    );
    for user in users {
        body.push_str(&format!(
            "<button type=\"submit\" name=\"sub\" value=\"{}\">Sign in as {}</button>",
            escape(&user.sub),
            escape(&user_label(user))
        ));
    }
    body.push_str("</fieldset>");
    body.push_str(
        "<button type=\"submit\" name=\"cancel\" value=\"1\" class=\"secondary\">Cancel</button>",
    );
    body.push_str("</form>");
    page("Sign in - mock OP", &body)
}

/// The 400 page for an invalid request; `reason` is shown escaped.
pub(crate) fn error_page(reason: &str) -> String {
    page(
        "Invalid request - mock OP",
        &format!(
            "<h1 id=\"title\">Invalid authorization request</h1><p role=\"alert\">{}</p>",
            escape(reason)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_shows_escaped_reason() {
        let html = error_page("bad <thing>");
        assert!(html.contains("bad &lt;thing&gt;"));
        assert!(!html.contains("<thing>"));
    }
}
