//! The pool of simulated data subjects: distinct fictional phone numbers drawn from the
//! `countries` table, the written forms a CRM puts in `request.to`, the `wa_id` Meta answers with
//! (including its Brazil and Mexico rewrites), and each subject's profile name and optional
//! business-scoped user id. No JSON and no clock here.

use rand::Rng;

use super::countries::{Country, COUNTRIES};
use super::ids;
use super::words::pick;

/// Brazilian area codes whose WhatsApp ids keep the mobile ninth digit.
const BR_KEEPS_NINE: &[&str] = &[
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "22", "24", "27", "28",
];

/// How a subject's number is usually written in the sending system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Compact, // +447700900123
    Digits,  // 447700900123
    Spaced,  // +44 7700 900123
    Dashed,  // +44-7700-900123
    Local,   // +1 (415) 555-0134, +55 (92) 90000-1234
}

const FORMS: [Form; 5] = [
    Form::Compact,
    Form::Digits,
    Form::Spaced,
    Form::Dashed,
    Form::Local,
];

/// One simulated person.
pub struct Subject {
    pub country: &'static Country,
    national: String,
    groups: &'static [usize],
    form: Form,
    /// What Meta resolves the number to: E.164 digits, rewritten for Brazil and Mexico.
    pub wa_id: String,
    pub first: &'static str,
    pub last: &'static str,
    /// The WhatsApp profile name: `first last`, or only the first name for some users.
    pub profile_name: String,
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
}

impl Subject {
    /// E.164 digits without `+`.
    #[cfg(test)]
    pub fn e164_digits(&self) -> String {
        format!("{}{}", self.country.cc, self.national)
    }

    /// The number as the sending system writes it this time: usually the subject's own habit,
    /// sometimes another form (data comes from more than one import).
    pub fn written<R: Rng>(&self, rng: &mut R) -> String {
        let form = if rng.gen_bool(0.8) {
            self.form
        } else {
            pick(rng, &FORMS)
        };
        self.write(form)
    }

    pub fn write(&self, form: Form) -> String {
        let cc = self.country.cc;
        let grouped = |sep: &str| {
            let mut parts = Vec::with_capacity(self.groups.len());
            let mut rest = self.national.as_str();
            for &g in self.groups {
                let (head, tail) = rest.split_at(g.min(rest.len()));
                parts.push(head);
                rest = tail;
            }
            if !rest.is_empty() {
                parts.push(rest);
            }
            parts.join(sep)
        };
        match form {
            Form::Compact => format!("+{cc}{}", self.national),
            Form::Digits => format!("{cc}{}", self.national),
            Form::Spaced => format!("+{cc} {}", grouped(" ")),
            Form::Dashed => format!("+{cc}-{}", grouped("-")),
            Form::Local => {
                let n = &self.national;
                match self.country.iso {
                    "US" | "CA" => format!("+1 ({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
                    "BR" => format!("+55 ({}) {}-{}", &n[..2], &n[2..7], &n[7..]),
                    "DE" => format!("+49 ({}) {}", &n[..self.groups[0]], &n[self.groups[0]..]),
                    _ => format!("+{cc} {}", grouped(" ")),
                }
            }
        }
    }
}

/// Meta's `wa_id` for a number: E.164 digits, except Brazilian mobiles outside the listed area
/// codes lose the ninth digit and Mexican mobiles gain a `1` after the country code.
fn wa_id(country: &Country, national: &str) -> String {
    match country.iso {
        "BR" if national.len() == 11
            && national.as_bytes()[2] == b'9'
            && !BR_KEEPS_NINE.contains(&&national[..2]) =>
        {
            format!("55{}{}", &national[..2], &national[3..])
        }
        "MX" if national.len() == 10 => format!("521{national}"),
        _ => format!("{}{national}", country.cc),
    }
}

/// How many subjects a run of `messages` messages uses: about one per five messages.
pub fn pool_size(messages: u64) -> usize {
    (messages / 5).clamp(1, 50_000) as usize
}

/// Builds the pool. Countries are drawn by weight among those with free numbers; each takes its
/// next free slot, so no two subjects share a number.
pub fn build_pool<R: Rng>(rng: &mut R, size: usize) -> Vec<Subject> {
    let mut used = vec![0u32; COUNTRIES.len()];
    let offsets: Vec<u64> = COUNTRIES
        .iter()
        .map(|c| rng.gen_range(0..u64::from(c.capacity())))
        .collect();
    let mut pool = Vec::with_capacity(size);
    for _ in 0..size {
        let open: Vec<usize> = (0..COUNTRIES.len())
            .filter(|&i| used[i] < COUNTRIES[i].capacity())
            .collect();
        let total: u32 = open.iter().map(|&i| COUNTRIES[i].weight).sum();
        let mut ticket = rng.gen_range(0..total);
        let ci = *open
            .iter()
            .find(|&&i| {
                let w = COUNTRIES[i].weight;
                if ticket < w {
                    true
                } else {
                    ticket -= w;
                    false
                }
            })
            .expect("a ticket below the total weight lands on a country");
        let country = &COUNTRIES[ci];
        // Spread slots over the whole range rather than counting up from zero: 7919 is a prime
        // that divides no capacity, so `used * 7919 + offset` visits every slot once.
        let cap = u64::from(country.capacity());
        let slot = ((u64::from(used[ci]) * 7919 + offsets[ci]) % cap) as u32;
        used[ci] += 1;
        pool.push(subject(rng, country, slot));
    }
    pool
}

fn subject<R: Rng>(rng: &mut R, country: &'static Country, slot: u32) -> Subject {
    let (national, groups) = country.national(slot);
    let first = pick(rng, country.region.first_names());
    let last = pick(rng, country.region.last_names());
    let profile_name = if rng.gen_bool(0.8) {
        format!("{first} {last}")
    } else {
        first.to_string()
    };
    let with_bsuid = rng.gen_bool(0.35);
    Subject {
        wa_id: wa_id(country, &national),
        country,
        groups,
        form: pick(rng, &FORMS),
        first,
        last,
        profile_name,
        user_id: with_bsuid.then(|| ids::bsuid(rng, country.iso, false)),
        parent_user_id: (with_bsuid && rng.gen_bool(0.5))
            .then(|| ids::bsuid(rng, country.iso, true)),
        national,
    }
}
