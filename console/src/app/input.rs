//! Keys and pasted text: what the popups, the `:` command line and the search prompt
//! take before the key tables (`keymap`) turn a key into a command for `App::cmd`.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Overlay, Screen};
use crate::keymap::{Key, Scope};

impl App {
    pub(super) fn paste(&mut self, s: &str) {
        if let Some(Overlay::Form { form, .. }) = &mut self.overlay {
            form.paste(s);
        } else if self.screen == Screen::Login {
            self.views.login.form.paste(s);
        } else if self.searching {
            self.search_buf().push_str(s.trim());
            self.search_due = Some(Instant::now() + self.debounce());
        }
    }

    pub(super) fn key(&mut self, k: KeyEvent) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            match k.code {
                KeyCode::Char('c') => {
                    self.quit = true;
                    return;
                }
                KeyCode::Char('z') => {
                    self.suspend = true;
                    return;
                }
                _ => {}
            }
        }
        if self.overlay.is_some() {
            return self.popup_key(k);
        }
        if self.command.is_some() {
            return self.command_key(k);
        }
        if self.searching {
            return self.search_key(k);
        }
        if self.screen == Screen::Login {
            match self.keymap.lookup(&[Scope::Login], &k) {
                Some(c) if !Key::from_event(&k).is_text() => self.cmd(c),
                _ => self.views.login.form.input(k),
            }
            return;
        }
        let scopes = self.scopes();
        if let Some(c) = self.keymap.lookup(&scopes, &k) {
            self.toast = None;
            self.cmd(c);
        }
    }

    /// A key while a popup is open: help and secrets close on any key, a form takes text,
    /// a confirm its yes and no, the Bulk Add preview its own keys.
    fn popup_key(&mut self, k: KeyEvent) {
        match &mut self.overlay {
            Some(Overlay::Help) | Some(Overlay::Secret { .. }) => self.overlay = None,
            Some(Overlay::Form { form, .. }) => match self.keymap.lookup(&[Scope::Form], &k) {
                Some(c) if !Key::from_event(&k).is_text() => self.cmd(c),
                _ => form.input(k),
            },
            Some(Overlay::Confirm { .. }) => {
                if let Some(c) = self.keymap.lookup(&[Scope::Confirm], &k) {
                    self.cmd(c);
                }
            }
            Some(Overlay::Import) => self.with(|v, cx| v.import.on_key(k, cx)),
            None => {}
        }
    }

    /// A key on the `:` command line.
    fn command_key(&mut self, k: KeyEvent) {
        let Some(line) = &mut self.command else {
            return;
        };
        match k.code {
            KeyCode::Esc => self.command = None,
            KeyCode::Enter => {
                let line = line.clone();
                self.command = None;
                self.run_command(&line);
            }
            KeyCode::Backspace if line.pop().is_none() => self.command = None,
            KeyCode::Char(c) => line.push(c),
            _ => {}
        }
    }

    /// A key in the search prompt: the search runs after a pause in typing.
    fn search_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Esc => {
                self.searching = false;
                self.search_buf().clear();
                self.search_due = Some(Instant::now());
            }
            KeyCode::Enter | KeyCode::Down | KeyCode::Up => {
                self.searching = false;
                if self.search_due.is_some() {
                    self.search_due = Some(Instant::now());
                }
            }
            KeyCode::Backspace => {
                self.search_buf().pop();
                self.search_due = Some(Instant::now() + self.debounce());
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.search_buf().push(c);
                self.search_due = Some(Instant::now() + self.debounce());
            }
            _ => {}
        }
    }
}
