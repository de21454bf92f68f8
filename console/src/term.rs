//! The real terminal: raw mode, alternate screen, bracketed paste, always restored
//! (quit, error, panic, Ctrl-C, SIGTERM); Ctrl-Z suspends.

use std::io::{stdout, Stdout};

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::app::App;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// The console's screen on the terminal `w` writes to: the alternate screen, bracketed
/// paste (the local terminal here, an SSH channel in the server).
pub fn enter_screen(w: &mut impl std::io::Write) -> std::io::Result<()> {
    execute!(w, EnterAlternateScreen, EnableBracketedPaste)
}

/// The terminal `w` writes to given back as it was (after [`enter_screen`]).
pub fn leave_screen(w: &mut impl std::io::Write) -> std::io::Result<()> {
    execute!(
        w,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    )
}

pub fn enter() -> std::io::Result<Term> {
    enable_raw_mode()?;
    enter_screen(&mut stdout())?;
    Terminal::new(CrosstermBackend::new(stdout()))
}

pub fn restore() {
    let _ = disable_raw_mode();
    let _ = leave_screen(&mut stdout());
}

/// Restore the terminal before the default panic message is printed.
pub fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The spreadsheet reader's thread catches its panics (a damaged file) and carries
        // on: leave the terminal as it is and only log.
        if std::thread::current().name() == Some(crate::import::READER_THREAD) {
            tracing::warn!("spreadsheet reader: {info}");
            return;
        }
        restore();
        prev(info);
    }));
}

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn suspend(term: &mut Term) -> anyhow::Result<()> {
    restore();
    // Stop ourselves like a shell job; we continue here after `fg`.
    let _ = std::process::Command::new("kill")
        .arg("-TSTP")
        .arg(std::process::id().to_string())
        .status();
    enable_raw_mode()?;
    enter_screen(&mut stdout())?;
    term.clear()?;
    Ok(())
}

/// Run the full-screen console until the user quits.
pub async fn run(app: &mut App) -> anyhow::Result<()> {
    install_panic_hook();
    let mut term = enter()?;
    let _guard = Guard;
    let events = EventStream::new();
    let mut term_sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::select! {
        r = crate::app::run(&mut term, app, events, suspend) => r,
        _ = term_sig.recv() => Ok(()),
        _ = hup.recv() => Ok(()),
    }
}
