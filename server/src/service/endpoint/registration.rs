//! The registration rules (DOMAIN.md "Endpoints"): whether a device that proved the account
//! password may bind — a licence in force, at most `max_bindings` endpoints per account —
//! and when an account's or an address's wrong digest answers lock it out. Pure decisions
//! on the state the SIP registrar hands in (counts, flags, limits); each refusal carries
//! the status and the exact reason phrase the device shows. The registrar keeps the
//! protocol (parsing, challenges, the counters themselves, bindings in memory) and asks
//! these functions; it re-implements none of them.

/// A refused registration or sign-in: the SIP status and the reason phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn forbidden(reason: impl Into<String>) -> Self {
        Self {
            status: 403,
            reason: reason.into(),
        }
    }
}

/// An account with no licence in force registers no endpoint.
pub fn licence_in_force(in_force: bool) -> Result<(), Refusal> {
    if in_force {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            "Unavailable terminals for invalid license",
        ))
    }
}

/// Whether the bindings may go from `current` to `next` endpoints: above `max` only if
/// their number does not grow (a device already bound may always refresh).
pub fn within_binding_limit(current: usize, next: usize, max: usize) -> Result<(), Refusal> {
    if next > max && next > current {
        return Err(binding_limit_reached(current, max));
    }
    Ok(())
}

/// The refusal of a new endpoint when the account has `current` registered already.
pub fn binding_limit_reached(current: usize, max: usize) -> Refusal {
    Refusal::forbidden(format!(
        "Forbidden: this account already has {current} endpoints registered (at most {max})"
    ))
}

/// The refusal once an account's wrong digest answers of the day reached the limit.
pub fn account_locked() -> Refusal {
    Refusal::forbidden(
        "Forbidden: too many failed sign-ins for this account today, try again later",
    )
}

/// The refusal while one cloud number from one address is shut out (too many wrong
/// answers within 10 minutes).
pub fn address_shut_out() -> Refusal {
    Refusal::forbidden("Forbidden: too many failed sign-ins, try again in 10 minutes")
}

/// The day's allowance of wrong answers: `per_day`, twice that for a request that
/// refreshes a live binding (`exempt`).
fn day_allowance(per_day: i64, exempt: bool) -> i64 {
    if exempt {
        2 * per_day
    } else {
        per_day
    }
}

/// Before a digest is checked: refused when the address is shut out (not for an exempt
/// request) or the day's wrong answers (`day`) reached the allowance.
pub fn locked(day: i64, per_day: i64, shut_out: bool, exempt: bool) -> Option<Refusal> {
    if !exempt && shut_out {
        return Some(address_shut_out());
    }
    (day >= day_allowance(per_day, exempt)).then(account_locked)
}

/// Whether one more try may be taken today when `taken` (wrong answers counted plus tries
/// being checked) are already used.
pub fn may_try(taken: i64, per_day: i64, exempt: bool) -> Result<(), Refusal> {
    if taken >= day_allowance(per_day, exempt) {
        return Err(account_locked());
    }
    Ok(())
}

/// After a wrong answer (already counted: `day` today, `shut_out_now` for this address):
/// the refusal, or None to challenge again.
pub fn after_wrong_answer(
    day: i64,
    per_day: i64,
    shut_out_now: bool,
    exempt: bool,
) -> Option<Refusal> {
    if exempt {
        return (day > 2 * per_day).then(account_locked);
    }
    if shut_out_now {
        return Some(address_shut_out());
    }
    (day > per_day).then(account_locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_limit_lets_bound_devices_refresh() {
        assert!(within_binding_limit(4, 5, 5).is_ok());
        assert!(within_binding_limit(5, 5, 5).is_ok());
        assert!(within_binding_limit(7, 6, 5).is_ok());
        let r = within_binding_limit(5, 6, 5).unwrap_err();
        assert_eq!(r.status, 403);
        assert_eq!(
            r.reason,
            "Forbidden: this account already has 5 endpoints registered (at most 5)"
        );
    }

    #[test]
    fn lockout_counts_twice_for_a_refresh() {
        assert_eq!(locked(99, 100, false, false), None);
        assert_eq!(locked(100, 100, false, false), Some(account_locked()));
        assert_eq!(locked(0, 100, true, false), Some(address_shut_out()));
        assert_eq!(locked(0, 100, true, true), None);
        assert_eq!(locked(199, 100, false, true), None);
        assert_eq!(locked(200, 100, false, true), Some(account_locked()));
        assert!(may_try(99, 100, false).is_ok());
        assert!(may_try(100, 100, false).is_err());
        assert!(may_try(199, 100, true).is_ok());
        assert_eq!(after_wrong_answer(100, 100, false, false), None);
        assert_eq!(
            after_wrong_answer(101, 100, false, false),
            Some(account_locked())
        );
        assert_eq!(
            after_wrong_answer(1, 100, true, false),
            Some(address_shut_out())
        );
        assert_eq!(after_wrong_answer(200, 100, true, true), None);
        assert_eq!(
            after_wrong_answer(201, 100, true, true),
            Some(account_locked())
        );
        assert!(licence_in_force(true).is_ok());
        assert_eq!(
            licence_in_force(false).unwrap_err().reason,
            "Unavailable terminals for invalid license"
        );
    }
}
