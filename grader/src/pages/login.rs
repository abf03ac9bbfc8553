//! Instructor login and logout.

use super::*;

pub(super) async fn login_form(headers: HeaderMap) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(auth::random_token);
    login_page(&token, None, StatusCode::OK)
}

/// The login page with its CSRF token in the form and in the cookie.
pub(super) fn login_page(token: &str, error: Option<String>, status: StatusCode) -> Response {
    let mut r = match render("login.html", context! { csrf => token, error }) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    *r.status_mut() = status;
    let c = format!("{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600");
    r.headers_mut().insert(header::SET_COOKIE, c.parse().expect("hex cookie"));
    r
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A name as the log shows it: escaped (a newline or escape code cannot
/// forge a log line) and at most 64 characters.
pub(super) fn log_safe(s: &str) -> String {
    crate::api::quoted(s)
}

/// Guessing is limited without letting anyone lock the instructor out:
/// - attempts are counted per (client address, name) and per client over
///   all names, before the slow check (so parallel posts cannot slip past),
///   and the right password takes its attempt back: only the guesser's own
///   address is ever refused, and another address's failures never stop
///   someone who knows the password;
/// - argon2 runs for at most `LOGIN_CHECKS` logins at a time over all
///   clients: a global slow-down that bounds the guess rate of many
///   addresses together (and the CPU they take from grading), where others
///   wait their turn rather than being refused.
pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if token.is_empty() || !auth::same_secret(&token, &f.csrf) {
        return PageError(
            StatusCode::FORBIDDEN,
            "The login form is stale or forged (CSRF token mismatch); reload the login page.".into(),
        )
        .into_response();
    }
    if f.name.len() > auth::MAX_NAME || f.password.len() > auth::MAX_PASSWORD {
        let error = format!(
            "The name is limited to {} bytes and the password to {} bytes.",
            auth::MAX_NAME,
            auth::MAX_PASSWORD
        );
        return login_page(&token, Some(error), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let client = peer.ip().to_string();
    let counted = state.login_rate.check(&client, &f.name).and_then(|()| {
        state.login_client_rate.check(&client, "").inspect_err(|_| state.login_rate.forgive(&client, &f.name))
    });
    if let Err(wait) = counted {
        return login_page(
            &token,
            Some(format!("Too many attempts: try again in {wait} s.")),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let Ok(_turn) = state.login_checks.acquire().await else {
        return internal("login semaphore closed").into_response();
    };
    let db = Arc::clone(&state.db);
    let name = f.name.clone();
    let id = blocking(move || {
        if auth::check_password(&db, &f.name, &f.password)? {
            Ok(Some(auth::create_session(&db, &f.name)?))
        } else {
            Ok(None)
        }
    })
    .await;
    let id = match id {
        Ok(id) => id,
        Err(e) => return PageError::from(e).into_response(),
    };
    let Some(id) = id else {
        tracing::warn!(instructor = %log_safe(&name), %client, "failed login");
        return login_page(&token, Some("Wrong name or password.".into()), StatusCode::UNAUTHORIZED);
    };
    state.login_rate.forgive(&client, &name);
    state.login_client_rate.forgive(&client, "");
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", auth::SESSION_SECS);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response()
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn logout(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<CsrfForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let db = Arc::clone(&state.db);
    if let Err(e) = blocking(move || auth::end_session(&db, &me.cookie)).await {
        // The cookie is cleared all the same, but the session would still
        // work elsewhere: say so rather than pretend.
        tracing::error!("ending a session: {e:#}");
        let msg = "Could not end the session in the gradebook; it stays valid until it expires. Try again.";
        return ([(header::SET_COOKIE, clear)], PageError(StatusCode::INTERNAL_SERVER_ERROR, msg.into()))
            .into_response();
    }
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}
