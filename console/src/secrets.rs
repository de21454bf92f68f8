//! "Remember password" in the OS keyring. Where there is no keyring service (a plain SSH
//! session), the caller gets a one-line message and carries on. On Linux this build uses
//! the kernel keyring (keyutils, no D-Bus needed): entries last for the login session.

const SERVICE: &str = "vcms-console";

pub fn store_password(email: &str, password: &str) -> Result<(), String> {
    keyring::Entry::new(SERVICE, email)
        .and_then(|e| e.set_password(password))
        .map_err(|e| format!("No keyring service, the password is not remembered ({e})"))
}

pub fn load_password(email: &str) -> Option<String> {
    keyring::Entry::new(SERVICE, email)
        .and_then(|e| e.get_password())
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn remember_round_trip_or_say_why() {
        match super::store_password("test@vcms.invalid", "Secret123") {
            Ok(()) => {
                let got = super::load_password("test@vcms.invalid");
                eprintln!("keyring: stored, loaded {:?}", got.is_some());
            }
            Err(e) => {
                assert!(e.contains("keyring"), "{e}");
                eprintln!("{e}");
            }
        }
    }
}
