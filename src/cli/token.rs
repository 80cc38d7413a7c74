//! `waledger token create --role ROLE [--label L]` / `token list` / `token revoke ID`: API bearer
//! tokens for `serve`. A new token is printed once; only the SHA-256 of its secret is stored.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::crypto::new_token;
use crate::http::Role;
use crate::store::TokenRow;
use std::io::Write;
use tabled::Tabled;

/// API bearer tokens for the HTTP service
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (ingest: sends; support: erasure requests; dpo: reports; admin: all)
    Create {
        #[arg(long, value_enum)]
        role: Role,
        /// What it is for (shown by `token list`)
        #[arg(long)]
        label: Option<String>,
    },
    /// Every token (never the token itself)
    List,
    /// Revoke a token now
    Revoke { id: String },
}

#[derive(Tabled, serde::Serialize)]
struct Row {
    id: String,
    role: String,
    label: String,
    created_at: String,
    revoked_at: String,
}

fn row(t: TokenRow) -> Row {
    let time = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0).map_or_else(String::new, |t| t.to_rfc3339())
    };
    Row {
        id: t.id,
        role: t.role,
        label: t.label.unwrap_or_default(),
        created_at: time(t.created_at),
        revoked_at: t.revoked_at.map_or_else(|| "-".into(), time),
    }
}

impl TokenArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let store = ctx.open_store().await?;
        let now = crate::clock::now().timestamp();
        match &self.command {
            TokenCommand::Create { role, label } => {
                let (id, token, digest) = new_token();
                store
                    .add_token(&TokenRow {
                        id: id.clone(),
                        role: role.to_string(),
                        digest: digest.to_vec(),
                        label: label.clone(),
                        created_at: now,
                        revoked_at: None,
                    })
                    .await?;
                match ctx.format {
                    Format::Json => output::json(
                        out,
                        &serde_json::json!({"id": id, "role": role, "token": token.as_str()}),
                    )?,
                    Format::Table => {
                        writeln!(out, "{}", token.as_str())?;
                        eprintln!(
                            "token {id} ({role}): shown once; store it now (only its hash is kept)"
                        );
                    }
                }
            }
            TokenCommand::List => {
                let rows: Vec<Row> = store.tokens().await?.into_iter().map(row).collect();
                match ctx.format {
                    Format::Json => output::json(out, &rows)?,
                    Format::Table => output::table(out, rows)?,
                }
            }
            TokenCommand::Revoke { id } => {
                if !store.revoke_token(id, now).await? {
                    store.close().await;
                    return Err(UsageError(format!(
                        "token {id}: no active token has this id; see `waledger token list`"
                    ))
                    .into());
                }
                match ctx.format {
                    Format::Json => {
                        output::json(out, &serde_json::json!({"id": id, "revoked": true}))?
                    }
                    Format::Table => writeln!(out, "token {id} revoked")?,
                }
            }
        }
        store.close().await;
        Ok(Exit::Success)
    }
}
