//! What follows an accepted send, in time order: its statuses (sent, then delivered and/or read,
//! or failed with an error), sometimes the customer's reply (remembered in the ring of open
//! conversations) and a marketing `stop` preference. Decides when and whether; the JSON shapes
//! are in `webhooks` and `inbound`.

use std::io::{self, Write};

use rand::Rng;
use serde_json::Value;

use super::flow::{vars, Recent, Sim, RECENT};
use super::inbound::{self, Inbound, InboundKind};
use super::templates::ReplyHint;
use super::webhooks::{statuses_payload, Pricing, Status};
use super::Lines;

/// What the statuses and replies of one accepted send share.
pub(super) struct Life<'a> {
    pub(super) s: usize,
    pub(super) b: usize,
    pub(super) wamid: &'a str,
    pub(super) pricing: &'a Pricing,
    pub(super) opaque: Option<&'a str>,
    pub(super) reply: &'a ReplyHint,
    pub(super) marketing: bool,
}

impl Sim {
    /// Statuses, then perhaps a reply and a stop. `failure` is the status error of a message
    /// that will fail.
    pub(super) fn follow_up<W: Write>(
        &mut self,
        life: &Life<'_>,
        t0: i64,
        failure: Option<Value>,
        out: &mut Lines<'_, W>,
    ) -> io::Result<()> {
        if let Some(error) = failure {
            return self.failed(life, t0, error, out);
        }
        let (Some(read_at), last) = self.delivered(life, t0, out)? else {
            return Ok(());
        };
        let last = self.reply(life, read_at, last, out)?;
        if life.marketing && !self.opted_out[life.s] && self.rng.gen_bool(0.03) {
            let at = last + self.delay(600, 6 * 3600);
            self.preference(life.s, life.b, true, at, out)?;
        }
        Ok(())
    }

    fn status<'a>(
        &'a self,
        life: &Life<'a>,
        status: &'static str,
        at: i64,
        priced: bool,
    ) -> Status<'a> {
        let mut s = Status::new(
            life.wamid,
            status,
            at,
            &self.subjects[life.s].wa_id,
            priced.then_some(life.pricing),
        );
        s.biz_opaque = life.opaque;
        s
    }

    /// Posts one status notification. Takes the statuses' times and builds them itself, so that
    /// the rng is free again when they borrow the pool.
    fn post<W: Write>(
        &mut self,
        life: &Life<'_>,
        statuses: &[(&'static str, i64)],
        error: Option<Value>,
        out: &mut Lines<'_, W>,
    ) -> io::Result<()> {
        let with_contact = self.subjects[life.s].user_id.is_some() && self.rng.gen_bool(0.5);
        let last = statuses.last().expect("at least one status").1;
        let received = self.received(last);
        let mut built: Vec<Status<'_>> = statuses
            .iter()
            .map(|&(status, at)| self.status(life, status, at, status != "failed"))
            .collect();
        if let (Some(error), Some(failed)) = (error, built.last_mut()) {
            failed.errors = Some([error]);
        }
        let subject = &self.subjects[life.s];
        let payload = statuses_payload(
            &self.businesses[life.b],
            built,
            with_contact.then_some(subject),
        );
        out.webhook(received, &payload)
    }

    fn failed<W: Write>(
        &mut self,
        life: &Life<'_>,
        t0: i64,
        error: Value,
        out: &mut Lines<'_, W>,
    ) -> io::Result<()> {
        let mut at = t0 + self.rng.gen_range(1..=4);
        if self.rng.gen_bool(0.5) {
            self.post(life, &[("sent", at)], None, out)?;
            at += self.delay(30, 3600);
        }
        self.post(life, &[("failed", at)], Some(error), out)
    }

    /// Sent, then delivered and/or read. Returns when it was read (if it was) and the last time.
    fn delivered<W: Write>(
        &mut self,
        life: &Life<'_>,
        t0: i64,
        out: &mut Lines<'_, W>,
    ) -> io::Result<(Option<i64>, i64)> {
        let sent_at = t0 + self.rng.gen_range(1..=4);
        self.post(life, &[("sent", sent_at)], None, out)?;
        let delivered_at = self
            .rng
            .gen_bool(0.92)
            .then(|| sent_at + self.delay(20, 6 * 3600));
        // A message can go straight to read without a delivered status.
        let read_at = match delivered_at {
            Some(d) if self.rng.gen_bool(0.6) => Some(d + self.delay(300, 4 * 3600)),
            None if self.rng.gen_bool(0.05) => Some(sent_at + self.delay(300, 4 * 3600)),
            _ => None,
        };
        match (delivered_at, read_at) {
            (Some(d), Some(r)) if r - d < 60 && self.rng.gen_bool(0.3) => {
                self.post(life, &[("delivered", d), ("read", r)], None, out)?;
            }
            _ => {
                if let Some(d) = delivered_at {
                    self.post(life, &[("delivered", d)], None, out)?;
                }
                if let Some(r) = read_at {
                    self.post(life, &[("read", r)], None, out)?;
                }
            }
        }
        Ok((read_at, read_at.or(delivered_at).unwrap_or(sent_at)))
    }

    /// Sometimes the customer answers a message they read: taps its button, writes, reacts,
    /// shares a photo or a location. Returns the time of the last event written.
    fn reply<W: Write>(
        &mut self,
        life: &Life<'_>,
        read_at: i64,
        last: i64,
        out: &mut Lines<'_, W>,
    ) -> io::Result<i64> {
        let chance = match life.reply {
            ReplyHint::QuickReply(..) => 0.25,
            ReplyHint::Buttons(_) | ReplyHint::List(_) => 0.6,
            ReplyHint::None if life.marketing => 0.08,
            ReplyHint::None => 0.15,
        };
        if !self.rng.gen_bool(chance) {
            return Ok(last);
        }
        let kind = InboundKind::choose(&mut self.rng, life.reply);
        let at = read_at.max(last) + 20 + self.delay(600, 2 * 3600);
        let seq = self.seq();
        let wamid = self.wamids.wamid(seq, true);
        let received = self.received(at);
        let (subject, business) = (&self.subjects[life.s], &self.businesses[life.b]);
        let vars = vars(&mut self.rng, subject, business);
        let m = Inbound {
            kind,
            wamid: &wamid,
            replied_to: life.wamid,
            timestamp: at,
        };
        let (payload, stop) =
            inbound::message(&mut self.rng, &m, life.reply, subject, business, &vars);
        out.webhook(received, &payload)?;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Recent {
            subject: life.s,
            business: life.b,
            seq,
            at,
        });
        if stop && !self.opted_out[life.s] && self.rng.gen_bool(0.5) {
            // "STOP" in a chat and WhatsApp's own marketing opt-out often come together.
            let at = at + self.delay(10, 120);
            self.preference(life.s, life.b, true, at, out)?;
            return Ok(at);
        }
        Ok(at)
    }
}
