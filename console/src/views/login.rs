//! The sign-in screen and its modes — sign in, register, activate, forgot and reset
//! password, the emailed MFA code ([`LoginView`]): the form of each mode with its captcha,
//! the `login` keys, the answers to the sign-in requests (a captcha, a field error, a
//! freeze, "MFA required") and the drawing of the centred box with the language line and
//! the key hints below.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use vcms_api::client::ClientError;
use vcms_api::{
    Captcha, EmailRequest, ErrorCode, LoginRequest, MfaVerify, RegisterRequest,
    ResetPasswordRequest,
};

use super::overlay::Toast;
use super::{error_text, Ctx, Look};
use crate::action::{Reply, Req, Requests};
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Scope};
use crate::widgets::form::{Field, Form};
use crate::widgets::{footer, popup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    SignIn,
    Register,
    Activate,
    Forgot,
    Reset,
    Mfa,
}

pub struct LoginView {
    pub mode: LoginMode,
    pub form: Form,
    pub captcha: Option<Captcha>,
    /// The solved proof of work of `captcha`.
    pub captcha_pow: String,
    pub notice: Option<Toast>,
    /// The sign-in attempt waiting for its emailed MFA code.
    pub mfa_token: Option<String>,
    /// Save the password after a successful sign-in.
    pub remember_password: bool,
    /// The server is the one serving this console (over SSH): no server field.
    pub fixed_server: bool,
}

impl LoginView {
    /// The sign-in form for `server`, with `email` filled in (then the password focused).
    pub fn new(server: &str, email: &str, remember_password: bool) -> Self {
        let mut v = LoginView {
            mode: LoginMode::SignIn,
            form: Form::new(vec![]),
            captcha: None,
            captcha_pow: String::new(),
            notice: None,
            mfa_token: None,
            remember_password,
            fixed_server: false,
        };
        v.set_mode(LoginMode::SignIn, &mut Requests::default());
        v.form.set_value("server", server);
        v.form.set_value("email", email);
        if !email.is_empty() {
            v.form.focus = 2;
        }
        v
    }

    /// The form of a console served by the server itself (over SSH): no server field, the
    /// email given (the SSH user name) filled in, nothing remembered.
    pub fn for_fixed_server(email: &str) -> Self {
        let mut v = LoginView::new("", email, false);
        v.fixed_server = true;
        v.set_mode(LoginMode::SignIn, &mut Requests::default());
        v.form.set_value("email", email);
        v.form.focus = usize::from(!email.is_empty());
        v
    }

    /// Ask for the emailed code of a sign-in started elsewhere (an SSH key, with MFA on).
    pub fn ask_mfa_code(&mut self, mfa_token: String, message: String) {
        self.mfa_token = Some(mfa_token);
        self.set_mode(LoginMode::Mfa, &mut Requests::default());
        self.notice(message, false);
    }

    /// Switch to `mode`: its fields (the server and email kept), and a captcha where the
    /// mode needs one.
    pub fn set_mode(&mut self, mode: LoginMode, requests: &mut Requests) {
        let old = std::mem::replace(&mut self.form, Form::new(vec![]));
        let keep = |name: &str| old.value(name);
        let mut fields = vec![
            Field::new("server", "field.server", &keep("server")),
            Field::new("email", "field.email", &keep("email")),
        ];
        if self.fixed_server {
            fields.remove(0);
        }
        fields.extend(mode_fields(mode));
        if matches!(
            mode,
            LoginMode::Activate | LoginMode::Mfa | LoginMode::Reset
        ) {
            fields.retain(|f| f.name != "email");
        }
        self.mode = mode;
        self.form = Form::new(fields);
        let first = usize::from(!self.fixed_server);
        self.form.focus = if keep("email").is_empty() || mode != LoginMode::SignIn {
            first
        } else {
            first + 1
        };
        self.captcha = None;
        if matches!(mode, LoginMode::Register | LoginMode::Forgot) {
            requests.send(Req::Captcha);
        }
    }

    pub fn notice(&mut self, text: String, error: bool) {
        self.notice = Some(Toast { text, error });
    }

    /// The server ended the session (why): sign in again, as `email` unless another is
    /// typed.
    pub fn session_ended(&mut self, why: String, email: Option<&str>) {
        if self.mode != LoginMode::SignIn {
            self.set_mode(LoginMode::SignIn, &mut Requests::default());
        }
        if let Some(e) = email {
            if self.form.value("email").is_empty() {
                self.form.set_value("email", e);
            }
        }
        self.form.set_value("password", "");
        self.form.focus = 2;
        self.notice(why, true);
    }

    /// Signed out (as `email`): a fresh sign-in form.
    pub fn signed_out(&mut self, lang: Lang, email: Option<&str>) {
        self.set_mode(LoginMode::SignIn, &mut Requests::default());
        if let Some(e) = email {
            self.form.set_value("email", e);
            self.form.focus = 2;
        }
        self.notice(t(lang, "login.signed_out"), false);
    }

    /// The commands of the `login` keys; false for those the app handles.
    pub fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        let mode = match c {
            Cmd::Quit if self.mode != LoginMode::SignIn => {
                self.notice = None;
                LoginMode::SignIn
            }
            Cmd::Register => LoginMode::Register,
            Cmd::Forgot => LoginMode::Forgot,
            Cmd::Activate => LoginMode::Activate,
            Cmd::NextField => {
                self.form.next();
                return true;
            }
            Cmd::PrevField => {
                self.form.prev();
                return true;
            }
            Cmd::Submit | Cmd::SubmitAlt => {
                self.submit(cx);
                return true;
            }
            _ => return false,
        };
        self.set_mode(mode, cx.requests);
        true
    }

    // Builds the request of each of the six modes from the form: one arm a mode.
    fn submit(&mut self, cx: &mut Ctx) {
        let lang = cx.lang;
        let f = &mut self.form;
        f.clear_errors();
        if !self.fixed_server {
            cx.fx.server = Some(f.value("server").trim().to_string());
        }
        let email = f.value("email").trim().to_string();
        let captcha_id = self.captcha.as_ref().map(|c| c.id.clone());
        let answer = f.value("captcha_answer");
        let pow = self.captcha_pow.clone();
        if f.has("email") && email.is_empty() {
            f.set_error(Some("email"), t(lang, "err.email_required"));
            return;
        }
        let req = match self.mode {
            LoginMode::SignIn => {
                let password = f.value("password");
                if password.is_empty() {
                    f.set_error(Some("password"), t(lang, "err.password_required"));
                    return;
                }
                Req::Login(LoginRequest {
                    email,
                    password,
                    language: Some(lang.code().to_string()),
                    captcha_id,
                    captcha_answer: (!answer.is_empty()).then_some(answer),
                    captcha_pow: (!pow.is_empty()).then_some(pow),
                })
            }
            LoginMode::Register => Req::Register(RegisterRequest {
                full_name: f.value("full_name"),
                company: f.value("company"),
                country: f.value("country"),
                email,
                password: f.value("password"),
                language: Some(lang.code().to_string()),
                captcha_id: captcha_id.unwrap_or_default(),
                captcha_answer: answer,
                captcha_pow: pow,
            }),
            LoginMode::Activate => Req::Activate(f.value("token").trim().to_string()),
            LoginMode::Mfa => Req::VerifyMfa(MfaVerify {
                mfa_token: self.mfa_token.clone().unwrap_or_default(),
                code: f.value("code").trim().to_string(),
            }),
            LoginMode::Forgot => Req::Forgot(EmailRequest {
                email,
                captcha_id: captcha_id.unwrap_or_default(),
                captcha_answer: answer,
                captcha_pow: pow,
            }),
            LoginMode::Reset => Req::ResetPassword(ResetPasswordRequest {
                token: f.value("token").trim().to_string(),
                new_password: f.value("new_password"),
                confirm_password: f.value("confirm_password"),
            }),
        };
        self.notice = None;
        cx.request(req);
    }

    pub fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Captcha(Ok((c, pow))) => {
                self.captcha = Some(c);
                self.captcha_pow = pow;
                if !self.form.has("captcha_answer") {
                    let field = Field::new("captcha_answer", "field.captcha", "");
                    self.form.fields.push(field);
                } else {
                    self.form.set_value("captcha_answer", "");
                }
            }
            Reply::Captcha(Err(e)) => self.notice(error_text(&e), true),
            Reply::Login(res) => match *res {
                Ok(r) => self.signed_in(r, cx),
                Err(e) => self.error(e, cx),
            },
            Reply::Register(Ok(r)) => {
                self.set_mode(LoginMode::Activate, cx.requests);
                let number = t(cx.lang, "profile.enterprise_number");
                let text = format!("{} ({number}: {})", r.message, r.enterprise_number);
                self.notice(text, false);
            }
            Reply::Message(Ok(m)) => {
                let next = match self.mode {
                    LoginMode::Forgot => LoginMode::Reset,
                    _ => LoginMode::SignIn,
                };
                self.set_mode(next, cx.requests);
                self.notice(m.message, false);
            }
            Reply::Register(Err(e)) | Reply::Message(Err(e)) => self.error(e, cx),
            other => return Some(other),
        }
        None
    }

    /// Signed in: the form forgets the password and captcha; the app does the rest.
    fn signed_in(&mut self, r: vcms_api::LoginResponse, cx: &mut Ctx) {
        if self.remember_password {
            cx.fx.remember = Some((self.form.value("email"), self.form.value("password")));
        }
        self.form.set_value("password", "");
        self.captcha = None;
        self.form.fields.retain(|f| f.name != "captcha_answer");
        self.notice = None;
        cx.fx.signed_in = Some(r);
    }

    /// A refused sign-in request: MFA asked, frozen, a field's error, or a message.
    fn error(&mut self, e: ClientError, cx: &mut Ctx) {
        let lang = cx.lang;
        let Some(b) = e.body().cloned() else {
            return self.notice(error_text(&e), true);
        };
        match b.code {
            ErrorCode::MfaRequired if b.mfa_token.is_some() => {
                self.mfa_token = b.mfa_token.clone();
                self.set_mode(LoginMode::Mfa, cx.requests);
                self.notice(b.message.clone(), false);
                return;
            }
            ErrorCode::Frozen => {
                let secs = b.retry_after_secs.unwrap_or(300).max(0);
                let mins = (secs + 59) / 60;
                return self.notice(tf(lang, "login.frozen", &[("min", &mins)]), true);
            }
            _ => {}
        }
        let field = match b.field.as_deref() {
            Some("captcha_id") => Some("captcha_answer"),
            f => f,
        };
        match field {
            Some(f) if self.form.has(f) => self.form.set_error(Some(f), b.message.clone()),
            _ => self.notice(b.message.clone(), true),
        }
        let needs_captcha = b.captcha_required == Some(true)
            || matches!(self.mode, LoginMode::Register | LoginMode::Forgot);
        if needs_captcha {
            cx.request(Req::Captcha);
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let title = match self.mode {
            LoginMode::SignIn => t(lang, "login.title"),
            LoginMode::Register => t(lang, "login.register_title"),
            LoginMode::Activate => t(lang, "login.activate_title"),
            LoginMode::Forgot => t(lang, "login.forgot_title"),
            LoginMode::Reset => t(lang, "login.reset_title"),
            LoginMode::Mfa => t(lang, "login.mfa_title"),
        };
        let art_h = self
            .captcha
            .as_ref()
            .map(|c| c.art.lines().count() as u16 + 1)
            .unwrap_or(0);
        let w = 64.min(area.width);
        let h = (self.form.height(w.saturating_sub(2), lang) + art_h + 7)
            .min(area.height.saturating_sub(1));
        let (above, foot) = popup::last_line(area);
        let r = popup::centered(above, w, h);
        let inner = popup::frame_box(f, r, &format!("vcms · {title}"), th);
        let mut y = inner.y;
        f.render_widget(
            Paragraph::new(language_line(look)),
            Rect::new(inner.x, y, inner.width, 1),
        );
        y += 2;
        let fh = self.form.height(inner.width, lang);
        let room = inner.height.saturating_sub(y - inner.y);
        self.form.render(
            f,
            Rect::new(inner.x, y, inner.width, fh.min(room)),
            th,
            lang,
        );
        y += fh;
        y += self.draw_captcha(f, inner, y, look);
        if let Some(n) = &self.notice {
            if y + 1 < inner.y + inner.height {
                let style = if n.error { th.error } else { th.ok };
                let mark = if n.error { "✗ " } else { "✓ " };
                f.render_widget(
                    Paragraph::new(Line::styled(format!("{mark}{}", n.text), style))
                        .wrap(ratatui::widgets::Wrap { trim: true }),
                    Rect::new(
                        inner.x,
                        y + 1,
                        inner.width,
                        (inner.y + inner.height).saturating_sub(y + 1),
                    ),
                );
            }
        }
        let hints = footer::hints(
            look.keymap,
            &[Scope::Login],
            lang,
            th,
            area.width as usize,
            &[],
        );
        f.render_widget(Paragraph::new(hints), foot);
    }

    /// The captcha's art from row `y` of `inner`, if there is one; the rows it took.
    fn draw_captcha(&self, f: &mut Frame, inner: Rect, y: u16, look: &Look) -> u16 {
        let Some(c) = &self.captcha else { return 0 };
        let th = look.theme;
        // The art keeps its columns: one left offset for the whole block.
        let art: Vec<&str> = c.art.lines().collect();
        let aw = art.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
        let pad = " ".repeat((inner.width.saturating_sub(aw) / 2) as usize);
        let mut lines =
            vec![Line::styled(t(look.lang, "login.captcha_hint"), th.muted)
                .alignment(Alignment::Center)];
        lines.extend(
            art.iter()
                .map(|l| Line::styled(format!("{pad}{l}"), th.title)),
        );
        let ah = (lines.len() as u16).min((inner.y + inner.height).saturating_sub(y));
        f.render_widget(
            Paragraph::new(lines),
            Rect::new(inner.x, y, inner.width, ah),
        );
        ah
    }
}

/// The extra fields of a mode, after the server and email.
fn mode_fields(mode: LoginMode) -> Vec<Field> {
    let password = || Field::new("password", "field.password", "").masked();
    match mode {
        LoginMode::SignIn => vec![password()],
        LoginMode::Register => vec![
            password(),
            Field::new("full_name", "field.full_name", ""),
            Field::new("company", "field.company", ""),
            Field::new("country", "field.country", ""),
        ],
        LoginMode::Activate => vec![Field::new("token", "field.token", "")],
        LoginMode::Forgot => vec![],
        LoginMode::Mfa => vec![Field::new("code", "field.mfa_code", "")],
        LoginMode::Reset => vec![
            Field::new("token", "field.token", ""),
            Field::new("new_password", "field.new_password", "").masked(),
            Field::new("confirm_password", "field.confirm_password", "").masked(),
        ],
    }
}

/// "Language  [English]  简体中文   ^L".
fn language_line(look: &Look) -> Line<'static> {
    let (lang, th) = (look.lang, look.theme);
    Line::from(vec![
        Span::raw(format!("  {}  ", t(lang, "field.language"))),
        Span::styled(
            if lang == Lang::En {
                "[English]"
            } else {
                " English "
            },
            th.title,
        ),
        Span::raw(" "),
        Span::styled(
            if lang == Lang::Zh {
                "[简体中文]"
            } else {
                " 简体中文 "
            },
            th.title,
        ),
        Span::styled("  ^L", th.key),
    ])
}
