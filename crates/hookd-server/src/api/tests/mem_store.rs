//! An in-memory [`Store`] for handler tests: simple, obviously correct, no I/O. It mirrors
//! the trait's documented contract (uid/event id conflicts, id-or-uid lookups, keyset
//! pages) closely enough to exercise the API; the real backends have their own suite.

use async_trait::async_trait;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::model::{Application, Attempt, Endpoint, EventType, Message, MessageDestination};
use hookd_core::Timestamp;
use hookd_store::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct MemStore {
    pub down: AtomicBool,
    data: Mutex<Data>,
}

#[derive(Default)]
struct Data {
    apps: Vec<Application>,
    event_types: Vec<EventType>,
    endpoints: Vec<Endpoint>,
    messages: Vec<Message>,
    dests: Vec<MessageDestination>,
    attempts: Vec<Attempt>,
    /// Idempotency keys: key -> (token, record).
    idempotency: std::collections::HashMap<String, (String, IdempotencyRecord)>,
}

/// A keyset page over items sorted ascending by `key`.
fn page<T: Clone>(mut items: Vec<T>, req: &PageRequest, key: impl Fn(&T) -> String) -> Page<T> {
    items.sort_by_key(|i| key(i));
    if req.descending {
        items.reverse();
    }
    if let Some(after) = &req.after {
        items.retain(|i| {
            if req.descending {
                key(i) < *after
            } else {
                key(i) > *after
            }
        });
    }
    let has_more = items.len() > req.limit as usize;
    items.truncate(req.limit as usize);
    Page { items, has_more }
}

impl MemStore {
    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap()
    }
}

#[async_trait]
impl Store for MemStore {
    async fn health(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("down for the test".into()));
        }
        Ok(())
    }

    async fn create_app(&self, app: &Application) -> StoreResult<()> {
        let mut d = self.data();
        if app.uid.is_some() && d.apps.iter().any(|a| a.uid == app.uid) {
            return Err(StoreError::Conflict("uid"));
        }
        d.apps.push(app.clone());
        Ok(())
    }
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Application> {
        let d = self.data();
        let by_id = d.apps.iter().find(|a| a.id.as_str() == id_or_uid);
        let found = by_id.or_else(|| d.apps.iter().find(|a| a.uid.as_deref() == Some(id_or_uid)));
        found.cloned().ok_or(StoreError::NotFound)
    }
    async fn list_apps(&self, req: &PageRequest) -> StoreResult<Page<Application>> {
        Ok(page(self.data().apps.clone(), req, |a| a.id.to_string()))
    }
    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        let mut d = self.data();
        if app.uid.is_some() && d.apps.iter().any(|a| a.uid == app.uid && a.id != app.id) {
            return Err(StoreError::Conflict("uid"));
        }
        let slot = d
            .apps
            .iter_mut()
            .find(|a| a.id == app.id)
            .ok_or(StoreError::NotFound)?;
        *slot = app.clone();
        Ok(())
    }
    async fn delete_app(&self, id: &AppId) -> StoreResult<()> {
        let mut d = self.data();
        let before = d.apps.len();
        d.apps.retain(|a| a.id != *id);
        if d.apps.len() == before {
            return Err(StoreError::NotFound);
        }
        d.endpoints.retain(|e| e.app_id != *id);
        d.messages.retain(|m| m.app_id != *id);
        d.dests.retain(|m| m.app_id != *id);
        d.attempts.retain(|m| m.app_id != *id);
        Ok(())
    }

    async fn create_event_type(&self, et: &EventType) -> StoreResult<()> {
        let mut d = self.data();
        if d.event_types.iter().any(|e| e.name == et.name) {
            return Err(StoreError::Conflict("name"));
        }
        d.event_types.push(et.clone());
        Ok(())
    }
    async fn get_event_type(&self, name: &str) -> StoreResult<EventType> {
        let d = self.data();
        d.event_types
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or(StoreError::NotFound)
    }
    async fn list_event_types(
        &self,
        req: &PageRequest,
        archived: bool,
    ) -> StoreResult<Page<EventType>> {
        let items = self
            .data()
            .event_types
            .iter()
            .filter(|e| archived || !e.archived)
            .cloned()
            .collect();
        Ok(page(items, req, |e| e.name.clone()))
    }
    async fn update_event_type(&self, et: &EventType) -> StoreResult<()> {
        let mut d = self.data();
        let slot = d
            .event_types
            .iter_mut()
            .find(|e| e.name == et.name)
            .ok_or(StoreError::NotFound)?;
        *slot = et.clone();
        Ok(())
    }
    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        let mut d = self.data();
        let before = d.event_types.len();
        d.event_types.retain(|e| e.name != name);
        if d.event_types.len() == before {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        let mut d = self.data();
        if ep.uid.is_some()
            && d.endpoints
                .iter()
                .any(|e| e.app_id == ep.app_id && e.uid == ep.uid)
        {
            return Err(StoreError::Conflict("uid"));
        }
        d.endpoints.push(ep.clone());
        Ok(())
    }
    async fn get_endpoint(&self, app: &AppId, id_or_uid: &str) -> StoreResult<Endpoint> {
        let d = self.data();
        let mut of_app = d.endpoints.iter().filter(|e| e.app_id == *app);
        let found = of_app.clone().find(|e| e.id.as_str() == id_or_uid);
        let found = found.or_else(|| of_app.find(|e| e.uid.as_deref() == Some(id_or_uid)));
        found.cloned().ok_or(StoreError::NotFound)
    }
    async fn list_endpoints(&self, app: &AppId, req: &PageRequest) -> StoreResult<Page<Endpoint>> {
        Ok(page(self.all_endpoints(app).await?, req, |e| {
            e.id.to_string()
        }))
    }
    async fn all_endpoints(&self, app: &AppId) -> StoreResult<Vec<Endpoint>> {
        Ok(self
            .data()
            .endpoints
            .iter()
            .filter(|e| e.app_id == *app)
            .cloned()
            .collect())
    }
    async fn update_endpoint(&self, ep: &Endpoint) -> StoreResult<()> {
        let mut d = self.data();
        let taken = d
            .endpoints
            .iter()
            .any(|e| e.app_id == ep.app_id && e.uid == ep.uid && e.id != ep.id);
        if ep.uid.is_some() && taken {
            return Err(StoreError::Conflict("uid"));
        }
        let slot = d
            .endpoints
            .iter_mut()
            .find(|e| e.id == ep.id && e.app_id == ep.app_id);
        *slot.ok_or(StoreError::NotFound)? = ep.clone();
        Ok(())
    }
    async fn set_endpoint_disabled(
        &self,
        app: &AppId,
        id: &EndpointId,
        disabled: bool,
    ) -> StoreResult<()> {
        let mut d = self.data();
        let slot = d
            .endpoints
            .iter_mut()
            .find(|e| e.id == *id && e.app_id == *app);
        slot.ok_or(StoreError::NotFound)?.disabled = disabled;
        Ok(())
    }
    async fn delete_endpoint(&self, app: &AppId, id: &EndpointId) -> StoreResult<()> {
        let mut d = self.data();
        let before = d.endpoints.len();
        d.endpoints.retain(|e| !(e.id == *id && e.app_id == *app));
        if d.endpoints.len() == before {
            return Err(StoreError::NotFound);
        }
        d.dests.retain(|x| x.endpoint_id != *id);
        Ok(())
    }

    async fn create_message(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        let mut d = self.data();
        let dup = |m: &Message| m.app_id == msg.app_id && m.event_id == msg.event_id;
        if msg.event_id.is_some() && d.messages.iter().any(dup) {
            return Err(StoreError::Conflict("eventId"));
        }
        d.messages.push(msg.clone());
        d.dests.extend_from_slice(dests);
        Ok(())
    }
    async fn get_message(&self, app: &AppId, id: &str) -> StoreResult<Message> {
        let d = self.data();
        let mut of_app = d.messages.iter().filter(|m| m.app_id == *app);
        let found = of_app.clone().find(|m| m.id.as_str() == id);
        let found = found.or_else(|| of_app.find(|m| m.event_id.as_deref() == Some(id)));
        found.cloned().ok_or(StoreError::NotFound)
    }
    async fn list_messages(
        &self,
        app: &AppId,
        f: &MessageFilter,
        req: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let items = self
            .data()
            .messages
            .iter()
            .filter(|m| m.app_id == *app)
            .filter(|m| f.event_types.is_empty() || f.event_types.contains(&m.event_type))
            .filter(|m| {
                f.channel
                    .as_ref()
                    .is_none_or(|c| m.channels.as_ref().is_some_and(|cs| cs.contains(c)))
            })
            .filter(|m| {
                f.before.is_none_or(|t| m.created_at < t)
                    && f.after.is_none_or(|t| m.created_at > t)
            })
            .cloned()
            .collect();
        Ok(page(items, req, |m| m.id.to_string()))
    }
    async fn list_destinations(
        &self,
        app: &AppId,
        msg: &MsgId,
    ) -> StoreResult<Vec<MessageDestination>> {
        Ok(self
            .data()
            .dests
            .iter()
            .filter(|x| x.app_id == *app && x.msg_id == *msg)
            .cloned()
            .collect())
    }

    async fn list_attempts(
        &self,
        app: &AppId,
        f: &AttemptFilter,
        req: &PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        let items = self
            .data()
            .attempts
            .iter()
            .filter(|a| a.app_id == *app)
            .filter(|a| f.msg_id.as_ref().is_none_or(|m| a.msg_id == *m))
            .filter(|a| f.endpoint_id.as_ref().is_none_or(|e| a.endpoint_id == *e))
            .filter(|a| f.status.is_none_or(|s| a.status == s))
            .cloned()
            .collect();
        Ok(page(items, req, |a| a.id.to_string()))
    }
    async fn get_attempt(&self, app: &AppId, msg: &MsgId, id: &AttemptId) -> StoreResult<Attempt> {
        let d = self.data();
        let found = d
            .attempts
            .iter()
            .find(|a| a.app_id == *app && a.msg_id == *msg && a.id == *id);
        found.cloned().ok_or(StoreError::NotFound)
    }

    async fn claim_due(
        &self,
        _: Timestamp,
        _: u32,
        _: Timestamp,
        _: &str,
        _: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(Vec::new())
    }
    async fn record_outcome(&self, o: &DeliveryOutcome) -> StoreResult<()> {
        let mut d = self.data();
        if let Some(a) = &o.attempt {
            d.attempts.push(a.clone());
        }
        Ok(())
    }
    async fn requeue(&self, dest: &MessageDestination) -> StoreResult<()> {
        let mut d = self.data();
        let key =
            |x: &MessageDestination| x.msg_id == dest.msg_id && x.endpoint_id == dest.endpoint_id;
        let kept = d
            .dests
            .iter()
            .find(|x| key(x))
            .map_or(0, |x| x.attempt_count);
        d.dests.retain(|x| !key(x));
        d.dests.push(MessageDestination {
            attempt_count: kept,
            ..dest.clone()
        });
        Ok(())
    }
    async fn endpoint_stats(
        &self,
        app: &AppId,
        endpoint: &EndpointId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> StoreResult<EndpointStats> {
        let (lo, hi) = msg_id_range(since, until);
        let d = self.data();
        let mut stats = EndpointStats::default();
        for x in d.dests.iter().filter(|x| {
            x.app_id == *app
                && x.endpoint_id == *endpoint
                && x.msg_id.as_str() >= lo.as_str()
                && x.msg_id.as_str() < hi.as_str()
        }) {
            stats.add(x.status.as_i64(), 1);
        }
        Ok(stats)
    }
    async fn renew_leases(
        &self,
        _: &str,
        _: &[(MsgId, EndpointId)],
        _: Timestamp,
    ) -> StoreResult<u64> {
        Ok(0)
    }
    async fn release_all_leases(&self, _: Timestamp) -> StoreResult<u64> {
        Ok(0)
    }
    async fn acquire_flow_endpoints(
        &self,
        _owner: &str,
        _now: Timestamp,
        _lease_until: Timestamp,
        _max: u32,
    ) -> StoreResult<Vec<FlowEndpoint>> {
        Ok(Vec::new())
    }

    async fn claim_flow(
        &self,
        _endpoint: &EndpointId,
        _fifo: bool,
        _now: Timestamp,
        _limit: u32,
        _lease_until: Timestamp,
        _owner: &str,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(Vec::new())
    }

    async fn release_flow_endpoints(&self, _owner: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        Ok(None)
    }

    async fn reserve_idempotency_key(
        &self,
        c: &IdempotencyClaim,
    ) -> StoreResult<IdempotencyReservation> {
        let mut d = self.data();
        if let Some((_, r)) = d.idempotency.get(&c.key) {
            let lapsed = r.response.is_none() && r.locked_until <= c.now;
            if r.expires_at > c.now && !lapsed {
                return Ok(IdempotencyReservation::Existing(r.clone()));
            }
        }
        let record = IdempotencyRecord {
            fingerprint: c.fingerprint.clone(),
            response: None,
            locked_until: c.locked_until,
            expires_at: c.expires_at,
        };
        d.idempotency
            .insert(c.key.clone(), (c.token.clone(), record));
        Ok(IdempotencyReservation::Reserved)
    }
    async fn complete_idempotency_key(
        &self,
        key: &str,
        token: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<bool> {
        let mut d = self.data();
        match d.idempotency.get_mut(key) {
            Some((t, r)) if t == token && r.response.is_none() => {
                r.response = Some((status, body.to_vec()));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn get_idempotency_key(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let d = self.data();
        Ok(d.idempotency
            .get(key)
            .map(|(_, r)| r.clone())
            .filter(|r| r.expires_at > now))
    }
    async fn release_idempotency_key(&self, key: &str, token: &str) -> StoreResult<()> {
        let mut d = self.data();
        if d.idempotency
            .get(key)
            .is_some_and(|(t, r)| t == token && r.response.is_none())
        {
            d.idempotency.remove(key);
        }
        Ok(())
    }
    async fn purge_idempotency_keys(&self, now: Timestamp, _: u32) -> StoreResult<u64> {
        let mut d = self.data();
        let before = d.idempotency.len();
        d.idempotency.retain(|_, (_, r)| r.expires_at > now);
        Ok((before - d.idempotency.len()) as u64)
    }
    async fn expunge_message_content(&self, app: &AppId, msg: &MsgId) -> StoreResult<()> {
        let mut d = self.data();
        let m = d
            .messages
            .iter_mut()
            .find(|m| m.app_id == *app && m.id == *msg)
            .ok_or(StoreError::NotFound)?;
        m.payload = None;
        m.payload_expires_at = None;
        Ok(())
    }
    async fn expunge_attempt_content(
        &self,
        app: &AppId,
        msg: &MsgId,
        id: &AttemptId,
    ) -> StoreResult<()> {
        let mut d = self.data();
        let a = d
            .attempts
            .iter_mut()
            .find(|a| a.app_id == *app && a.msg_id == *msg && a.id == *id)
            .ok_or(StoreError::NotFound)?;
        a.response.clear();
        Ok(())
    }
    async fn purge_expired_payloads(&self, now: Timestamp, _: u32) -> StoreResult<u64> {
        let mut d = self.data();
        let mut n = 0;
        for m in &mut d.messages {
            if m.payload_expires_at.is_some_and(|t| t <= now) {
                m.payload = None;
                m.payload_expires_at = None;
                n += 1;
            }
        }
        Ok(n)
    }
    async fn purge_attempts(&self, before: Timestamp, _: u32) -> StoreResult<u64> {
        let mut d = self.data();
        let n = d.attempts.len();
        d.attempts.retain(|a| a.created_at >= before);
        Ok((n - d.attempts.len()) as u64)
    }
}

impl MemStore {
    /// The stored payload of a message, for byte-exactness checks.
    pub fn get_message_payload(&self, id: &str) -> Option<String> {
        let d = self.data();
        let msg = d.messages.iter().find(|m| m.id.as_str() == id)?;
        msg.payload.as_deref().map(str::to_owned)
    }
}
