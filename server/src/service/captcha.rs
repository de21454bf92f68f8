//! Captcha challenges a terminal can show: characters drawn as 5-line text art. Single use,
//! valid 5 minutes, answered case-insensitively. Art alone is read by a short script, so each
//! challenge also carries a proof of work ([`vcms_api::pow`], the captcha id is its challenge):
//! the console solves it in about 0.2 s, a script pays the same for every try.

use crate::clock::MINUTE;
use crate::error::AppError;
use crate::service::App;
use crate::store::admin;
use vcms_api::ErrorCode;

const CHARS: &[u8] = b"ACDEFHJKMNPRTUVWXY34679";
const LEN: usize = 5;
pub const VALID: i64 = 5 * MINUTE;

fn glyph(c: u8) -> [&'static str; 5] {
    match c {
        b'A' => [" ### ", "#   #", "#####", "#   #", "#   #"],
        b'C' => [" ####", "#    ", "#    ", "#    ", " ####"],
        b'D' => ["#### ", "#   #", "#   #", "#   #", "#### "],
        b'E' => ["#####", "#    ", "#### ", "#    ", "#####"],
        b'F' => ["#####", "#    ", "#### ", "#    ", "#    "],
        b'H' => ["#   #", "#   #", "#####", "#   #", "#   #"],
        b'J' => ["  ###", "    #", "    #", "#   #", " ### "],
        b'K' => ["#   #", "#  # ", "###  ", "#  # ", "#   #"],
        b'M' => ["#   #", "## ##", "# # #", "#   #", "#   #"],
        b'N' => ["#   #", "##  #", "# # #", "#  ##", "#   #"],
        b'P' => ["#### ", "#   #", "#### ", "#    ", "#    "],
        b'R' => ["#### ", "#   #", "#### ", "#  # ", "#   #"],
        b'T' => ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
        b'U' => ["#   #", "#   #", "#   #", "#   #", " ### "],
        b'V' => ["#   #", "#   #", "#   #", " # # ", "  #  "],
        b'W' => ["#   #", "#   #", "# # #", "## ##", "#   #"],
        b'X' => ["#   #", " # # ", "  #  ", " # # ", "#   #"],
        b'Y' => ["#   #", " # # ", "  #  ", "  #  ", "  #  "],
        b'3' => ["#### ", "    #", " ### ", "    #", "#### "],
        b'4' => ["#   #", "#   #", "#####", "    #", "    #"],
        b'6' => [" ### ", "#    ", "#### ", "#   #", " ### "],
        b'7' => ["#####", "    #", "   # ", "  #  ", "  #  "],
        _ => [" ### ", "#   #", " ####", "    #", " ### "], // 9
    }
}

/// Draw `text` as five lines of art, glyphs shifted up or down a little at random.
pub fn art(text: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let shifts: Vec<usize> = text.bytes().map(|_| rng.gen_range(0..2)).collect();
    let mut lines = vec![String::new(); 6];
    for (i, c) in text.bytes().enumerate() {
        let g = glyph(c);
        for (row, line) in lines.iter_mut().enumerate() {
            let src = row.checked_sub(shifts[i]).and_then(|r| g.get(r)).copied();
            line.push_str(src.unwrap_or("     "));
            line.push_str("  ");
        }
    }
    lines
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn issue(app: &App) -> Result<vcms_api::Captcha, AppError> {
    let answer = crate::crypto::random_from(CHARS, LEN);
    let id = crate::crypto::new_token();
    let mut c = app.store.conn().await?;
    admin::insert_captcha(&mut c, &id, &answer, app.now() + VALID).await?;
    Ok(vcms_api::Captcha {
        id,
        art: art(&answer),
        expires_in_secs: VALID / 1000,
        // With the captcha off nothing is checked: no work to ask for either.
        pow_bits: if app.captcha { app.captcha_pow_bits } else { 0 },
    })
}

/// [`check`] for a form whose captcha fields are all required.
pub async fn check_form(app: &App, id: &str, answer: &str, pow: &str) -> Result<(), AppError> {
    check(app, Some(id), Some(answer), Some(pow)).await
}

/// Check and consume a challenge: the characters and the proof of work (`pow`, the nonce).
/// Errors name the field `captcha`.
pub async fn check(
    app: &App,
    id: Option<&str>,
    answer: Option<&str>,
    pow: Option<&str>,
) -> Result<(), AppError> {
    if !app.captcha {
        return Ok(());
    }
    let (id, answer) = match (id.map(str::trim), answer.map(str::trim)) {
        (Some(i), Some(a)) if !i.is_empty() && !a.is_empty() => (i, a),
        _ => {
            return Err(AppError::bad_request(
                ErrorCode::CaptchaRequired,
                "Type the characters of the captcha (ask for one with POST /api/v1/captcha)",
            )
            .with_field("captcha"))
        }
    };
    let pow = pow.map(str::trim).unwrap_or("");
    if app.captcha_pow_bits > 0 && pow.is_empty() {
        return Err(AppError::bad_request(
            ErrorCode::CaptchaRequired,
            "Send the captcha's proof of work in captcha_pow (a decimal nonce such that \
             SHA-256(\"<captcha id>:<nonce>\") starts with pow_bits zero bits)",
        )
        .with_field("captcha"));
    }
    let mut c = app.store.conn().await?;
    let taken = admin::take_captcha(&mut c, id).await?;
    match taken {
        Some((expected, expires)) if expires >= app.now() => {
            let typed: String = answer.chars().filter(|c| !c.is_whitespace()).collect();
            if app.captcha_pow_bits > 0 && !vcms_api::pow::verify(id, pow, app.captcha_pow_bits) {
                Err(AppError::bad_request(
                    ErrorCode::CaptchaUnsolved,
                    "The captcha's proof of work is not solved; ask for a new captcha",
                )
                .with_field("captcha"))
            } else if crate::crypto::ct_eq(&typed.to_uppercase(), &expected) {
                Ok(())
            } else {
                Err(AppError::bad_request(
                    ErrorCode::CaptchaWrong,
                    "The captcha characters do not match; here is a new one to try",
                )
                .with_field("captcha"))
            }
        }
        _ => Err(AppError::bad_request(
            ErrorCode::CaptchaExpired,
            "The captcha has expired or was already used; ask for a new one",
        )
        .with_field("captcha")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn art_has_five_glyph_rows_per_character() {
        let a = super::art("AC347");
        // Six rows (a glyph shifted down by 0 or 1); the last may be blank.
        assert_eq!(a.split('\n').count(), 6);
        assert!(a.contains('#'));
    }
}
