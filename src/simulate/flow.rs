//! The run's state and the first half of each message's life. Owns the rng, the businesses, the
//! subject pool, who opted out of marketing, and a small ring of recent customer messages that
//! reactions, contextual replies and in-window free-form sends point at; picks each send's kind,
//! recipient and time, writes an optional `resume` preference, then the send and its answer.
//! What follows an accepted send is in `followups`. All state is bounded by the pool size (at
//! most 50,000 subjects), never by the number of messages.

use std::collections::VecDeque;
use std::io::{self, Write};

use chrono::DateTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::errors::{self, SendFacts};
use super::followups::Life;
use super::ids::{self, WamidGen};
use super::inbound;
use super::sends::{self, SendKind};
use super::subjects::{self, Form, Subject};
use super::templates::ReplyHint;
use super::webhooks::{Category, Pricing};
use super::words::{ascii_slug, pick, Vars, BRANDS, PRODUCTS, STREETS};
use super::{Business, Lines, SimulateOptions};

pub(super) const RECENT: usize = 256;

/// A customer message the business may answer.
#[derive(Clone, Copy)]
pub(super) struct Recent {
    pub(super) subject: usize,
    pub(super) business: usize,
    /// Its sequence number, from which its wamid is rebuilt.
    pub(super) seq: u64,
    pub(super) at: i64,
}

/// Who one send goes to, and what it points at.
struct Target {
    kind: SendKind,
    s: usize,
    b: usize,
    /// The customer message a reaction or contextual reply points at.
    context: Option<String>,
    /// Inside the customer service window (the customer wrote in the last 24 hours).
    in_window: bool,
}

/// What the follow-ups of an accepted send need.
struct Accepted {
    pricing: Pricing,
    opaque: Option<String>,
    reply: ReplyHint,
    marketing: bool,
    /// `Some` when the message will fail: the status error.
    failure: Option<Value>,
}

pub struct Sim {
    pub(super) rng: ChaCha8Rng,
    start: i64,
    span: i64,
    messages: u64,
    pub(super) businesses: Vec<Business>,
    pub(super) subjects: Vec<Subject>,
    pub(super) opted_out: Vec<bool>,
    pub(super) recent: VecDeque<Recent>,
    pub(super) wamids: WamidGen,
    next_seq: u64,
}

impl Sim {
    pub fn new(options: &SimulateOptions) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let wamids = WamidGen::new(rng.gen());
        let count = rng.gen_range(1..=3);
        let first_brand = rng.gen_range(0..BRANDS.len());
        let businesses = (0..count)
            .map(|k| {
                let (brand, slug) = BRANDS[(first_brand + k) % BRANDS.len()];
                Business {
                    phone_number_id: ids::numeric_id(&mut rng, 15),
                    waba_id: ids::numeric_id(&mut rng, 15),
                    display: format!("1555{:07}", rng.gen_range(0..10_000_000)),
                    brand,
                    slug,
                }
            })
            .collect();
        let subjects = subjects::build_pool(&mut rng, subjects::pool_size(options.messages));
        let span = i64::from(options.days) * 86_400;
        Sim {
            opted_out: vec![false; subjects.len()],
            subjects,
            businesses,
            start: options.until.timestamp() - span,
            span,
            messages: options.messages.max(1),
            recent: VecDeque::with_capacity(RECENT),
            wamids,
            next_seq: 0,
            rng,
        }
    }

    pub(super) fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Uniform over the window, in message order: message `i` falls in the `i`-th of `messages`
    /// equal slices.
    fn send_time(&mut self, i: u64) -> i64 {
        let u: f64 = self.rng.gen();
        self.start + ((i as f64 + u) / self.messages as f64 * self.span as f64) as i64
    }

    /// A customer message of the last 24 hours (the customer service window) that arrived before
    /// `t0`, if the ring has one at the place it looks.
    fn open_conversation(&mut self, t0: i64) -> Option<Recent> {
        if self.recent.is_empty() {
            return None;
        }
        let r = self.recent[self.rng.gen_range(0..self.recent.len())];
        (r.at < t0 && t0 - r.at < 86_400).then_some(r)
    }

    fn business(&mut self) -> usize {
        if self.businesses.len() == 1 || self.rng.gen_bool(0.6) {
            0
        } else {
            self.rng.gen_range(1..self.businesses.len())
        }
    }

    /// Webhooks reach the endpoint a moment after the event they report.
    pub(super) fn received(&mut self, event: i64) -> i64 {
        event + self.rng.gen_range(0..=2)
    }

    /// A delay in seconds: usually short, sometimes long (a phone that was off, a busy reader).
    pub(super) fn delay(&mut self, short: i64, long: i64) -> i64 {
        if self.rng.gen_bool(0.8) {
            self.rng.gen_range(1..=short)
        } else {
            self.rng.gen_range(short..=long)
        }
    }

    /// One message: its send, then whatever follows it.
    pub fn message<W: Write>(&mut self, i: u64, out: &mut Lines<'_, W>) -> io::Result<()> {
        let t0 = self.send_time(i);
        let target = self.target(t0);
        if self.opted_out[target.s] && self.rng.gen_bool(0.4) {
            let at = (t0 - self.rng.gen_range(60..3600)).max(self.start);
            self.preference(target.s, target.b, false, at, out)?;
        }
        let seq = self.seq();
        let wamid = self.wamids.wamid(seq, false);
        let Some(accepted) = self.send(&target, &wamid, t0, out)? else {
            return Ok(());
        };
        let life = Life {
            s: target.s,
            b: target.b,
            wamid: &wamid,
            pricing: &accepted.pricing,
            opaque: accepted.opaque.as_deref(),
            reply: &accepted.reply,
            marketing: accepted.marketing,
        };
        self.follow_up(&life, t0, accepted.failure, out)
    }

    /// Picks the kind of send and its recipient: free-form messages often continue an open
    /// conversation, reactions and contextual replies always do (else they become plain text).
    fn target(&mut self, t0: i64) -> Target {
        let mut kind = SendKind::choose(&mut self.rng);
        let wants_recent =
            kind.needs_inbound() || (kind != SendKind::Template && self.rng.gen_bool(0.5));
        let recent = if wants_recent {
            self.open_conversation(t0)
        } else {
            None
        };
        if kind.needs_inbound() && recent.is_none() {
            kind = SendKind::Text;
        }
        match recent {
            Some(r) => Target {
                kind,
                s: r.subject,
                b: r.business,
                context: kind.needs_inbound().then(|| self.wamids.wamid(r.seq, true)),
                in_window: true,
            },
            None => Target {
                kind,
                s: self.rng.gen_range(0..self.subjects.len()),
                b: self.business(),
                context: None,
                in_window: false,
            },
        }
    }

    /// Writes the send envelope. `None` when the Cloud API refused it (no statuses follow).
    fn send<W: Write>(
        &mut self,
        target: &Target,
        wamid: &str,
        t0: i64,
        out: &mut Lines<'_, W>,
    ) -> io::Result<Option<Accepted>> {
        let (subject, business) = (&self.subjects[target.s], &self.businesses[target.b]);
        let rng = &mut self.rng;
        let vars = vars(rng, subject, business);
        let to = subject.written(rng);
        let at = DateTime::from_timestamp(t0, 0).expect("send times lie in the window");
        let context = target.context.as_deref();
        let built = sends::build(rng, target.kind, &to, subject, business, &vars, at, context);
        let facts = SendFacts {
            to: &to,
            wa_id: &subject.wa_id,
            template: built.template,
            media_link: built.media_link.as_deref(),
            marketing: built.category == Category::Marketing,
            free_form: target.kind != SendKind::Template,
        };
        if rng.gen_bool(0.04) {
            let response = errors::send_error(rng, &facts);
            out.send(t0, &business.phone_number_id, &built.request, &response)?;
            return Ok(None);
        }
        let pacing = match target.kind {
            SendKind::Template if rng.gen_bool(0.2) => Some("accepted"),
            SendKind::Template if facts.marketing && rng.gen_bool(0.01) => {
                Some("held_for_quality_assessment")
            }
            _ => None,
        };
        let response = sends::success_response(&to, &subject.wa_id, wamid, pacing);
        out.send(t0, &business.phone_number_id, &built.request, &response)?;
        // Marketing to a customer who opted out fails; a few messages fail for other reasons.
        let opted = self.opted_out[target.s];
        let failure = ((opted && facts.marketing) || rng.gen_bool(0.05))
            .then(|| errors::status_error(rng, &facts, opted));
        Ok(Some(Accepted {
            pricing: Pricing::choose(rng, built.category, target.in_window),
            marketing: facts.marketing,
            opaque: built.opaque,
            reply: built.reply,
            failure,
        }))
    }

    /// A `user_preferences` webhook, and the opt-out state it reports.
    pub(super) fn preference<W: Write>(
        &mut self,
        s: usize,
        b: usize,
        stop: bool,
        at: i64,
        out: &mut Lines<'_, W>,
    ) -> io::Result<()> {
        self.opted_out[s] = stop;
        let received = self.received(at);
        let payload = inbound::preference(&self.businesses[b], &self.subjects[s], stop, at);
        out.webhook(received, &payload)
    }
}

/// The values one message's texts are filled with.
pub(super) fn vars<'a, R: Rng>(
    rng: &mut R,
    subject: &'a Subject,
    business: &'a Business,
) -> Vars<'a> {
    let order = if rng.gen_bool(0.5) {
        format!("A{}", rng.gen_range(10_000..100_000))
    } else {
        format!("ORD-{}", rng.gen_range(100_000..1_000_000))
    };
    Vars {
        first: subject.first,
        brand: business.brand,
        url: format!("https://www.{}.example.com/orders/{order}", business.slug),
        order,
        product: pick(rng, PRODUCTS),
        street: pick(rng, STREETS),
        email: format!(
            "{}.{}@example.com",
            ascii_slug(subject.first),
            ascii_slug(subject.last)
        ),
        phone: subject.write(Form::Spaced),
    }
}
