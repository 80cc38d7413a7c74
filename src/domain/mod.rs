//! Pure domain types: field kinds and categories, phone subjects, message ids and the shapes of
//! ledger entries. Nothing here does I/O, touches a database or calls into `ring`; every type is
//! built once at the edge (`parse`, `FromStr`) and trusted afterwards.

pub mod entry;
pub mod field;
pub mod ids;
pub mod phone;
pub mod request;

pub use entry::{
    digest_key, ChainHead, ChainRecord, Digest, FieldValue, Plaintext, RecordBody, RecordKind,
};
pub use field::{Category, Direction, EntryState, FieldKind};
pub use ids::{EntryId, MessageId, SubjectId};
pub use phone::{PhoneError, PhoneNumber};
pub use request::ErasureState;
