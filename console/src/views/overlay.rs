//! The popups over a view — help, "are you sure?", a secret shown once, a form, the Bulk
//! Add preview — and the message line's toast: the types the app and the views share to
//! open them (the drawing is in `widgets::popup`, `forms` and `import`).

use crate::action::Req;
use crate::widgets::form::Form;

pub use super::forms::FormKind;

/// What a confirmed "are you sure?" does.
#[derive(Debug)]
pub enum Op {
    /// Send this request.
    Send(Box<Req>),
    /// Apply the previewed Bulk Add ("no" goes back to the preview).
    ApplyImport,
}

pub enum Overlay {
    Help,
    Confirm {
        text: String,
        detail: String,
        op: Op,
    },
    Secret {
        title: String,
        who: String,
        value: String,
        note: String,
    },
    Form {
        kind: FormKind,
        form: Form,
    },
    /// Bulk Add: progress, then the scrollable preview (state in the import view).
    Import,
}

impl Op {
    pub fn send(req: Req) -> Op {
        Op::Send(Box::new(req))
    }
}

impl Overlay {
    /// The kind of the form open, if this is one.
    pub fn form_kind(&self) -> Option<FormKind> {
        match self {
            Overlay::Form { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// A message on the status line.
#[derive(Debug, Clone)]
pub struct Toast {
    pub text: String,
    pub error: bool,
}
