//! Keys are data: one table per screen of `{key, command, description}`. The footer hints
//! and the `?` help are generated from these tables, and the config file can override them
//! (`[keys.<screen>] <command> = "<key>"`, see config.example.toml).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

/// Every command a key can trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmd {
    Quit,
    Help,
    NextTab,
    TabAccount,
    TabSystem,
    Command,
    Refresh,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Search,
    Open,
    Back,
    Mark,
    MarkPage,
    MarkAll,
    Add,
    Edit,
    Remove,
    SendEmail,
    FailedList,
    ResetPassword,
    ResetPincode,
    PageSize,
    Resend,
    Delete,
    Left,
    Right,
    AddLicense,
    EditProfile,
    ChangePassword,
    Logout,
    NextField,
    PrevField,
    Submit,
    SubmitAlt,
    Cancel,
    Yes,
    No,
    Language,
    Register,
    Forgot,
    Activate,
    Invite,
    ResendInvite,
    SetRole,
    ToggleDisabled,
    RemoveColleague,
    CreateKey,
    RevokeKey,
    EditSecurity,
    AddSshKey,
    RemoveSshKey,
    BulkAdd,
    Export,
    Template,
}

impl Cmd {
    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        use Cmd::*;
        match self {
            Quit => "quit",
            Help => "help",
            NextTab => "next_tab",
            TabAccount => "tab_account",
            TabSystem => "tab_system",
            Command => "command",
            Refresh => "refresh",
            Up => "up",
            Down => "down",
            PageUp => "page_up",
            PageDown => "page_down",
            First => "first",
            Last => "last",
            Search => "search",
            Open => "open",
            Back => "back",
            Mark => "mark",
            MarkPage => "mark_page",
            MarkAll => "mark_all",
            Add => "add",
            Edit => "edit",
            Remove => "remove",
            SendEmail => "send_email",
            FailedList => "failed_list",
            ResetPassword => "reset_password",
            ResetPincode => "reset_pincode",
            PageSize => "page_size",
            Resend => "resend",
            Delete => "delete",
            Left => "left",
            Right => "right",
            AddLicense => "add_license",
            EditProfile => "edit_profile",
            ChangePassword => "change_password",
            Logout => "logout",
            NextField => "next_field",
            PrevField => "prev_field",
            Submit => "submit",
            SubmitAlt => "submit_alt",
            Cancel => "cancel",
            Yes => "yes",
            No => "no",
            Language => "language",
            Register => "register",
            Forgot => "forgot",
            Activate => "activate",
            Invite => "invite",
            ResendInvite => "resend_invite",
            SetRole => "set_role",
            ToggleDisabled => "toggle_disabled",
            RemoveColleague => "remove_colleague",
            CreateKey => "create_key",
            RevokeKey => "revoke_key",
            EditSecurity => "edit_security",
            AddSshKey => "add_ssh_key",
            RemoveSshKey => "remove_ssh_key",
            BulkAdd => "bulk_add",
            Export => "export",
            Template => "template",
        }
    }
}

/// The screens that have a key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Login,
    Accounts,
    Details,
    Failed,
    System,
    Colleagues,
    Audit,
    ApiKeys,
    Form,
    Confirm,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::Global,
        Scope::Login,
        Scope::Accounts,
        Scope::Details,
        Scope::Failed,
        Scope::System,
        Scope::Colleagues,
        Scope::Audit,
        Scope::ApiKeys,
        Scope::Form,
        Scope::Confirm,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Login => "login",
            Scope::Accounts => "accounts",
            Scope::Details => "details",
            Scope::Failed => "failed",
            Scope::System => "system",
            Scope::Colleagues => "colleagues",
            Scope::Audit => "audit",
            Scope::ApiKeys => "apikeys",
            Scope::Form => "form",
            Scope::Confirm => "confirm",
        }
    }
}

/// A key: code plus Ctrl/Alt (Shift is part of the character for printable keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// `j`, `G`, `?`, `enter`, `esc`, `space`, `tab`, `backtab`, `up`, `pgdn`, `home`,
    /// `f1`, `ctrl-r`, `alt-x`…
    pub fn parse(s: &str) -> Option<Key> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") || lower.starts_with("ctrl+") {
                ctrl = true;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") || lower.starts_with("alt+") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
            }
        };
        Some(Key { code, ctrl, alt })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "S-Tab".to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".to_string(),
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("^{}", base.to_uppercase()),
            (_, true) => format!("M-{base}"),
            _ => base,
        }
    }

    /// A key that types a character into a text field.
    pub fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && !self.ctrl && !self.alt
    }
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub keys: Vec<Key>,
    pub cmd: Cmd,
    /// i18n key of the description.
    pub desc: &'static str,
    /// Shown in the footer (the rest only in `?` help).
    pub hint: bool,
}

fn b(keys: &[&str], cmd: Cmd, desc: &'static str, hint: bool) -> Binding {
    Binding {
        keys: keys.iter().filter_map(|k| Key::parse(k)).collect(),
        cmd,
        desc,
        hint,
    }
}

// The default key tables: data, one line a binding, kept in one place to read at a glance.
fn defaults(scope: Scope) -> Vec<Binding> {
    use Cmd::*;
    match scope {
        Scope::Global => vec![
            b(&["?"], Help, "key.help", true),
            b(&[":"], Command, "key.command", true),
            b(&["tab"], NextTab, "key.next_tab", false),
            b(&["1"], TabAccount, "key.tab_account", false),
            b(&["2"], TabSystem, "key.tab_system", false),
            b(&["ctrl-r", "r"], Refresh, "key.refresh", false),
            b(&["L"], Language, "key.language", false),
            b(&["q"], Quit, "key.quit", true),
        ],
        Scope::Login => vec![
            b(&["enter"], Submit, "key.sign_in", true),
            b(&["tab", "down"], NextField, "key.next_field", true),
            b(&["backtab", "up"], PrevField, "key.prev_field", false),
            b(&["ctrl-l"], Language, "key.language", true),
            b(&["ctrl-n"], Register, "key.register", true),
            b(&["ctrl-f"], Forgot, "key.forgot", true),
            b(&["ctrl-t"], Activate, "key.activate", false),
            b(&["esc"], Quit, "key.quit", true),
        ],
        Scope::Accounts => vec![
            b(&["j", "down"], Down, "key.down", false),
            b(&["k", "up"], Up, "key.up", false),
            b(&["pgdn", "ctrl-d"], PageDown, "key.page_down", false),
            b(&["pgup", "ctrl-u"], PageUp, "key.page_up", false),
            b(&["g", "home"], First, "key.first", false),
            b(&["G", "end"], Last, "key.last", false),
            b(&["/"], Search, "key.search", true),
            b(&["enter"], Open, "key.open", true),
            b(&["space"], Mark, "key.mark", true),
            b(&["a"], MarkPage, "key.mark_page", false),
            b(&["A"], MarkAll, "key.mark_all", false),
            b(&["n"], Add, "key.add", true),
            b(&["d"], Remove, "key.remove", true),
            b(&["m"], SendEmail, "key.send_email", true),
            b(&["f"], FailedList, "key.failed_list", true),
            b(&["s"], PageSize, "key.page_size", false),
            b(&["i"], BulkAdd, "key.bulk_add", false),
            b(&["x"], Export, "key.export", false),
            b(&["t"], Template, "key.template", false),
            b(&["esc"], Back, "key.clear", false),
        ],
        Scope::Details => vec![
            b(&["e"], Edit, "key.edit", true),
            b(&["w"], ResetPassword, "key.reset_password", true),
            b(&["p"], ResetPincode, "key.reset_pincode", true),
            b(&["m"], SendEmail, "key.send_email", true),
            b(&["d"], Remove, "key.remove", false),
            b(&["esc", "backspace"], Back, "key.back", true),
        ],
        Scope::Failed => vec![
            b(&["j", "down"], Down, "key.down", false),
            b(&["k", "up"], Up, "key.up", false),
            b(&["space"], Mark, "key.mark", true),
            b(&["a"], MarkPage, "key.mark_page", false),
            b(&["s"], Resend, "key.resend", true),
            b(&["d"], Delete, "key.delete", true),
            b(&["esc", "backspace"], Back, "key.back", true),
        ],
        Scope::System => vec![
            b(&["h", "left"], Left, "key.prev_section", false),
            b(&["l", "right"], Right, "key.next_section", true),
            b(&["n"], AddLicense, "key.add_license", true),
            b(&["e"], EditProfile, "key.edit_profile", true),
            b(&["c"], ChangePassword, "key.change_password", true),
            b(&["b"], EditSecurity, "key.edit_security", false),
            b(&["s"], AddSshKey, "key.add_ssh_key", false),
            b(&["x"], RemoveSshKey, "key.remove_ssh_key", false),
            b(&["o"], Logout, "key.logout", true),
        ],
        Scope::Colleagues => vec![
            b(&["j", "down"], Down, "key.down", false),
            b(&["k", "up"], Up, "key.up", false),
            b(&["h", "left"], Left, "key.prev_section", false),
            b(&["l", "right"], Right, "key.next_section", false),
            b(&["n"], Invite, "key.invite", true),
            b(&["s"], ResendInvite, "key.resend_invite", false),
            b(&["e"], SetRole, "key.set_role", true),
            b(&["x"], ToggleDisabled, "key.toggle_disabled", true),
            b(&["d"], RemoveColleague, "key.remove_colleague", true),
        ],
        Scope::Audit => vec![
            b(&["j", "down"], Down, "key.down", false),
            b(&["k", "up"], Up, "key.up", false),
            b(&["h", "left"], Left, "key.prev_section", false),
            b(&["l", "right"], Right, "key.next_section", true),
            b(&["/"], Search, "key.search", true),
            b(&["esc"], Back, "key.clear", false),
        ],
        Scope::ApiKeys => vec![
            b(&["j", "down"], Down, "key.down", false),
            b(&["k", "up"], Up, "key.up", false),
            b(&["h", "left"], Left, "key.prev_section", false),
            b(&["l", "right"], Right, "key.next_section", false),
            b(&["n"], CreateKey, "key.create_key", true),
            b(&["d"], RevokeKey, "key.revoke_key", true),
        ],
        Scope::Form => vec![
            b(&["enter"], Submit, "key.save", true),
            b(&["ctrl-e"], SubmitAlt, "key.save_send", true),
            b(&["tab", "down"], NextField, "key.next_field", true),
            b(&["backtab", "up"], PrevField, "key.prev_field", false),
            b(&["esc"], Cancel, "key.cancel", true),
        ],
        Scope::Confirm => vec![
            b(&["y", "enter"], Yes, "key.yes", true),
            b(&["n", "esc"], No, "key.no", true),
        ],
    }
}

/// All key tables, with the user's overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    tables: HashMap<Scope, Vec<Binding>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::new(&HashMap::new()).unwrap_or_else(|_| Keymap {
            tables: Scope::ALL.iter().map(|s| (*s, defaults(*s))).collect(),
        })
    }
}

impl Keymap {
    /// `overrides[screen][command] = "key"` or `"key1, key2"` replaces the keys of a command.
    pub fn new(overrides: &HashMap<String, HashMap<String, String>>) -> Result<Self, String> {
        let mut tables: HashMap<Scope, Vec<Binding>> =
            Scope::ALL.iter().map(|s| (*s, defaults(*s))).collect();
        for (screen, cmds) in overrides {
            let scope = Scope::ALL
                .iter()
                .find(|s| s.name() == screen)
                .ok_or_else(|| format!("keys.{screen}: no such screen"))?;
            let table = tables.get_mut(scope).ok_or("no table")?;
            for (cmd, keys) in cmds {
                let binding = table
                    .iter_mut()
                    .find(|b| b.cmd.name() == cmd)
                    .ok_or_else(|| format!("keys.{screen}.{cmd}: no such command here"))?;
                let parsed: Option<Vec<Key>> = keys.split(',').map(Key::parse).collect();
                binding.keys = parsed
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("keys.{screen}.{cmd}: cannot read key {keys:?}"))?;
            }
        }
        Ok(Keymap { tables })
    }

    pub fn table(&self, scope: Scope) -> &[Binding] {
        self.tables.get(&scope).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The command of `key` in the first scope that binds it.
    pub fn lookup(&self, scopes: &[Scope], key: &KeyEvent) -> Option<Cmd> {
        let k = Key::from_event(key);
        scopes.iter().find_map(|s| {
            self.table(*s)
                .iter()
                .find(|b| b.keys.contains(&k))
                .map(|b| b.cmd)
        })
    }

    /// The first key of `cmd` in `scope`, for messages ("press n to add").
    pub fn key_of(&self, scope: Scope, cmd: Cmd) -> String {
        self.table(scope)
            .iter()
            .find(|b| b.cmd == cmd)
            .and_then(|b| b.keys.first())
            .map(Key::label)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keys() {
        assert_eq!(Key::parse("G").map(|k| k.code), Some(KeyCode::Char('G')));
        let k = Key::parse("ctrl-R").expect("ctrl-r");
        assert!(k.ctrl && k.code == KeyCode::Char('r'));
        assert_eq!(Key::parse("pgdn").map(|k| k.code), Some(KeyCode::PageDown));
        assert!(Key::parse("nonsense").is_none());
    }

    #[test]
    fn overrides_replace_keys() {
        let mut o = HashMap::new();
        o.insert(
            "accounts".to_string(),
            HashMap::from([("add".to_string(), "+, ctrl-a".to_string())]),
        );
        let km = Keymap::new(&o).expect("keymap");
        let plus = KeyEvent::new(KeyCode::Char('+'), KeyModifiers::NONE);
        assert_eq!(km.lookup(&[Scope::Accounts], &plus), Some(Cmd::Add));
        let n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(km.lookup(&[Scope::Accounts], &n), None);
        o.insert(
            "nowhere".to_string(),
            HashMap::from([("add".to_string(), "x".to_string())]),
        );
        assert!(Keymap::new(&o).is_err());
    }
}
