//! Authentication and roles (§12). A bearer token is 32 random bytes from the operating system
//! (256 bits), shown once as `gj_<64 hex digits>`; the store keeps only its SHA-256. A plain
//! hash is enough because the secret has full entropy: there is nothing to guess, so the slow
//! password hashes (argon2) would add cost and no safety. Lookup is by hash, so the time it
//! takes says nothing about any token that exists.
//!
//! Roles and what they map to in the engine's [`Context`]:
//! - `insured`: `Actor::Person(psn_no)`, channel `app` (or `web`); acts only for self, promoter
//!   rights come from the engine's network rules (N7–N9).
//! - `operator`: `Actor::Operator { id, area }`, channel `counter`; the engine confines it to its
//!   planning area (N11); batch queries only for that area.
//! - `institution`: `Actor::Institution(code)`, channel `api`; settles, pre-settles and cancels
//!   its own bills only.
//! - `admin`: `Actor::Admin(name)`, channel `api`; everything.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::{text, Actor, AreaCode, Channel, ErrorCode};
use gongji_engine::Context;
use gongji_store::{NewToken, Store, StoreError, StoredToken};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// The prefix of every token, so that a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "gj_";
const TOKEN_SECRET_BYTES: usize = 32;
/// Longest `Authorization` value looked at; anything longer is not one of ours.
const AUTHORIZATION_LEN_MAX: usize = 256;
/// A token's name (the holder: operator id, system name).
const TOKEN_NAME_CHARS_MAX: usize = 64;

/// The roles of §12 (one table with the store's text: `core::states`).
pub use gongji_core::states::Role;

/// What a token grants: a role and the one scope that role needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub role: Role,
    pub area: Option<AreaCode>,
    pub institution: Option<String>,
    pub person: Option<String>,
    /// The holder (operator id, system name), recorded as the actor of every change (P6).
    pub name: String,
}

impl TokenSpec {
    /// Each role needs exactly its own scope: insured a person, operator an area, institution
    /// an institution code, admin none.
    pub fn validate(&self) -> Result<(), ApiError> {
        let need = |present: bool, what: &str| {
            if present {
                Ok(())
            } else {
                Err(ApiError::input(format!("role {} needs --{what}", self.role.as_str())))
            }
        };
        let refuse_extra = |present: bool, what: &str| {
            if present {
                Err(ApiError::input(format!("role {} takes no --{what}", self.role.as_str())))
            } else {
                Ok(())
            }
        };
        match self.role {
            Role::Insured => {
                need(self.person.is_some(), "person")?;
                refuse_extra(self.area.is_some(), "area")?;
                refuse_extra(self.institution.is_some(), "institution")?;
            }
            Role::Operator => {
                need(self.area.is_some(), "area")?;
                refuse_extra(self.person.is_some(), "person")?;
                refuse_extra(self.institution.is_some(), "institution")?;
            }
            Role::Institution => {
                need(self.institution.is_some(), "institution")?;
                refuse_extra(self.person.is_some(), "person")?;
                refuse_extra(self.area.is_some(), "area")?;
            }
            Role::Admin => {
                refuse_extra(self.person.is_some(), "person")?;
                refuse_extra(self.area.is_some(), "area")?;
                refuse_extra(self.institution.is_some(), "institution")?;
            }
        }
        // The one text rule (issue 12): the scope as the bills and the register spell it, the
        // holder's name as free text.
        if let Some(institution) = &self.institution {
            text::check_identifier("institution", "§12", institution, text::IDENTIFIER_LEN_MAX)?;
        }
        if let Some(person) = &self.person {
            text::check_psn_no("person", "§12", person)?;
        }
        text::check_text("the token's name", "§12", &self.name, TOKEN_NAME_CHARS_MAX)?;
        Ok(())
    }
}

/// A token as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub spec: TokenSpec,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Issues a token: stores its hash and returns its id and the secret, shown once.
pub fn issue<S: Store>(store: &S, spec: &TokenSpec) -> Result<(i64, String), ApiError> {
    spec.validate()?;
    if let Some(person) = &spec.person {
        if store.read(|tx| tx.person(person))?.is_none() {
            return Err(ApiError::domain(ErrorCode::PersonNotFound, "", format!("no person with psn_no {person:?}")));
        }
    }
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|err| ApiError::internal(format!("no randomness from the operating system: {err}")))?;
    let token = format!("{TOKEN_PREFIX}{}", hex(&secret));
    let record = NewToken {
        token_hash: hash_token(&token),
        role: spec.role,
        area: spec.area.as_ref().map(|a| a.as_str().to_string()),
        institution: spec.institution.clone(),
        person: spec.person.clone(),
        name: spec.name.clone(),
        created_at: Utc::now(),
    };
    let id = store.write(|tx| tx.insert_token(&record))?;
    Ok((id, token))
}

/// Revokes a token; `false` when there is no such token or it was revoked before.
pub fn revoke<S: Store>(store: &S, token_id: i64) -> Result<bool, ApiError> {
    Ok(store.write(|tx| tx.revoke_token(token_id, Utc::now()))?)
}

pub fn list<S: Store>(store: &S) -> Result<Vec<TokenInfo>, ApiError> {
    let stored = store.read(|tx| tx.tokens())?;
    stored.into_iter().map(info_of).collect()
}

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn info_of(stored: StoredToken) -> Result<TokenInfo, ApiError> {
    let corrupt = |what: &str| ApiError::from(StoreError::Corrupt(format!("token {}: {what}", stored.id)));
    let role = stored.token.role;
    let area = stored.token.area.as_deref().map(AreaCode::parse).transpose().map_err(|_| corrupt("area"))?;
    Ok(TokenInfo {
        id: stored.id,
        spec: TokenSpec { role, area, institution: stored.token.institution.clone(), person: stored.token.person.clone(), name: stored.token.name.clone() },
        created_at: stored.token.created_at,
        revoked_at: stored.revoked_at,
    })
}

/// What the request says about who calls: the bearer token and, for insured persons, the
/// channel (`X-Gongji-Channel: app|web`). Parsing only; [`authenticate`] checks the store.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub token: Option<String>,
    pub channel: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Credentials, ApiError> {
        let token = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let text = value.to_str().ok().filter(|t| t.len() <= AUTHORIZATION_LEN_MAX);
                let token = text.and_then(|t| t.strip_prefix("Bearer ")).map(str::trim);
                Some(token.ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <token>`"))?.to_string())
            }
        };
        let channel = parts.headers.get("x-gongji-channel").map(|v| v.to_str().unwrap_or("").to_string());
        Ok(Credentials { token, channel })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: i64,
    pub spec: TokenSpec,
    pub channel: Channel,
}

/// Finds the token in the store: missing, unknown (forged) and revoked tokens are refused
/// alike with 401 `auth.unauthenticated`.
pub fn authenticate<S: Store>(store: &S, credentials: &Credentials) -> Result<Caller, ApiError> {
    let token = credentials.token.as_deref().ok_or_else(|| ApiError::unauthenticated("a bearer token is required (gongji token issue)"))?;
    let unknown = || ApiError::unauthenticated("unknown or revoked token");
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(unknown());
    }
    let stored = store.read(|tx| tx.token_by_hash(&hash_token(token)))?.ok_or_else(unknown)?;
    if stored.revoked_at.is_some() {
        return Err(unknown());
    }
    let info = info_of(stored)?;
    let channel = match (info.spec.role, credentials.channel.as_deref()) {
        (Role::Insured, None | Some("app")) => Channel::App,
        (Role::Insured, Some("web")) => Channel::Web,
        (Role::Insured, Some(other)) => return Err(ApiError::input(format!("X-Gongji-Channel is app or web, not {other:?}"))),
        (Role::Operator, _) => Channel::Counter,
        (Role::Institution | Role::Admin, _) => Channel::Api,
    };
    Ok(Caller { token_id: info.id, spec: info.spec, channel })
}

impl Caller {
    pub fn role(&self) -> Role {
        self.spec.role
    }

    /// The engine's view of this caller (P6): actor, channel, business date.
    pub fn context(&self, business_date: NaiveDate) -> Context {
        let actor = match self.spec.role {
            Role::Insured => Actor::Person(self.spec.person.clone().unwrap_or_default()),
            Role::Operator => Actor::Operator { id: self.spec.name.clone(), area: self.spec.area.clone().expect("operator tokens carry an area") },
            Role::Institution => Actor::Institution(self.spec.institution.clone().unwrap_or_default()),
            Role::Admin => Actor::Admin(self.spec.name.clone()),
        };
        Context::new(actor, self.channel, business_date)
    }

    // Every role/object check of §12 is one of these `may_*` methods. Issue 12, item 8: each
    // check that needs no record runs before anything is loaded, and the checks that need the
    // person's area take `None` for a psn_no that names nobody, so that a caller without rights
    // hears the same whether the person exists or not. An operator cannot place an unknown
    // psn_no in its area, so it hears what it hears for a person of another area (403); only
    // roles that may see every person (an admin, or an insured person asking about themselves)
    // are told `person.not_found`.

    /// §12, N9, before anything is loaded: acting for `psn_no` (moves, the preset, network
    /// business, the family models). An insured person acts only for themselves
    /// (`network.not_allowed`, N9, the code the engine gives for the same rule); an
    /// institution never does family business. Operators and admins pass here: the engine
    /// confines an operator to the counter of the person's area (N11), with the same answer
    /// for a person of another area and an unknown psn_no.
    pub fn may_act_for(&self, psn_no: &str) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Insured if self.spec.person.as_deref() == Some(psn_no) => Ok(()),
            Role::Insured => Err(ApiError::domain(ErrorCode::NetworkNotAllowed, "N9", "an insured person acts only for themselves")),
            Role::Institution => Err(ApiError::forbidden("§12", "institutions only settle bills")),
            Role::Operator | Role::Admin => Ok(()),
        }
    }

    /// §12, before anything is loaded: reading the data of `psn_no`. An insured person reads
    /// only their own; an institution never through this API (the hospital dialect gives it
    /// what a settlement needs); operators are checked against the area by
    /// [`Caller::may_read_person`].
    pub fn may_ask_about(&self, psn_no: &str) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Insured if self.spec.person.as_deref() == Some(psn_no) => Ok(()),
            Role::Insured => Err(ApiError::forbidden("§12", "an insured person sees only their own accounts")),
            Role::Institution => Err(ApiError::forbidden("§12", "institutions see persons only through a settlement")),
            Role::Operator | Role::Admin => Ok(()),
        }
    }

    /// §12, N11, after the lookup: reading the person `psn_no` of `area` (`None`: nobody has
    /// this psn_no). An operator reads persons of its own area only.
    pub fn may_read_person(&self, psn_no: &str, area: Option<&AreaCode>) -> Result<(), ApiError> {
        self.may_ask_about(psn_no)?;
        self.operator_in_area(area, "serves persons of that area only")
    }

    /// §12, before anything is loaded: finding persons by ID number is counter work.
    pub fn may_find_persons(&self) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Operator | Role::Admin => Ok(()),
            Role::Insured | Role::Institution => Err(ApiError::forbidden("§12", "finding persons by ID number is counter work")),
        }
    }

    /// §12: the institution a bill belongs to must be the caller's own (admins act for any).
    /// Checked before the bill is looked up, so that another institution's bills answer 403
    /// whether they exist or not.
    pub fn may_bill_for(&self, institution: &str) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Institution if self.spec.institution.as_deref() == Some(institution) => Ok(()),
            Role::Institution => Err(ApiError::forbidden("§12", "an institution settles and cancels its own bills only")),
            Role::Admin => Ok(()),
            Role::Insured | Role::Operator => Err(ApiError::forbidden("§12", "only institutions settle, pre-settle and cancel bills")),
        }
    }

    /// §12, Q3: batch queries of an area: its operators and admins.
    pub fn may_query_area(&self, area: &AreaCode) -> Result<(), ApiError> {
        self.may_administer()?;
        self.operator_in_area(Some(area), "queries that area only")
    }

    /// P1, P5, before anything is loaded: registering persons and crediting money are agency
    /// work, for operators and admins.
    pub fn may_administer(&self) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Operator | Role::Admin => Ok(()),
            Role::Insured | Role::Institution => Err(ApiError::forbidden("§12", "this is the agency's work, for its operators")),
        }
    }

    /// P1, P5, N11: agency work for a person of `area` (`None`: an unknown psn_no), in the
    /// operator's own area.
    pub fn may_administer_area(&self, area: Option<&AreaCode>) -> Result<(), ApiError> {
        self.may_administer()?;
        self.operator_in_area(area, "serves persons of that area only")
    }

    /// §10, §12: batch jobs are agency work, for operators and admins.
    pub fn may_run_jobs(&self) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Operator | Role::Admin => Ok(()),
            Role::Insured | Role::Institution => Err(ApiError::forbidden("§12", "batch jobs are run by the agency's operators and admins")),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.spec.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::forbidden("§12", "only an admin may do this")),
        }
    }

    /// N11: an operator works in its own area only; the answer names the operator's area and
    /// neither the person's nor whether they exist. Other roles pass.
    fn operator_in_area(&self, area: Option<&AreaCode>, what: &str) -> Result<(), ApiError> {
        match (self.spec.role, &self.spec.area) {
            (Role::Operator, Some(own)) if area == Some(own) => Ok(()),
            (Role::Operator, own) => {
                let own = own.as_ref().map(AreaCode::as_str).unwrap_or("?");
                Err(ApiError::forbidden("N11", format!("an operator of {own} {what}")))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongji_store::sqlite::SqliteStore;

    fn spec(role: Role) -> TokenSpec {
        TokenSpec { role, area: None, institution: None, person: None, name: "t".into() }
    }

    #[test]
    fn s12_tokens_are_random_hashed_and_revocable() {
        let store = SqliteStore::in_memory().unwrap();
        let (id, token) = issue(&store, &spec(Role::Admin)).unwrap();
        let (_, other) = issue(&store, &spec(Role::Admin)).unwrap();
        assert_ne!(token, other);
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
        let listed = list(&store).unwrap();
        assert_eq!(listed.len(), 2);
        let stored = store.read(|tx| tx.tokens()).unwrap();
        assert!(stored.iter().all(|t| t.token.token_hash != token && !t.token.token_hash.contains(&token[3..])));
        let credentials = Credentials { token: Some(token.clone()), channel: None };
        assert_eq!(authenticate(&store, &credentials).unwrap().token_id, id);
        assert!(revoke(&store, id).unwrap());
        assert!(!revoke(&store, id).unwrap());
        assert_eq!(authenticate(&store, &credentials).unwrap_err().code, crate::problem::http_code::UNAUTHENTICATED);
    }

    #[test]
    fn s12_each_role_needs_its_own_scope() {
        assert!(spec(Role::Insured).validate().is_err());
        assert!(spec(Role::Operator).validate().is_err());
        assert!(spec(Role::Institution).validate().is_err());
        assert!(spec(Role::Admin).validate().is_ok());
        let mut admin_with_area = spec(Role::Admin);
        admin_with_area.area = Some(AreaCode::parse("330200").unwrap());
        assert!(admin_with_area.validate().is_err());
        let store = SqliteStore::in_memory().unwrap();
        let mut ghost = spec(Role::Insured);
        ghost.person = Some("nobody".into());
        assert_eq!(issue(&store, &ghost).unwrap_err().code, "person.not_found");
    }
}
