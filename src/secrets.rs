//! "Remember password" in the OS keyring. Where there is no keyring service (a plain SSH
//! session), the caller gets a one-line message and carries on.

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
