//! Command-line actions around activation emails: `scimd user resend-activation` and
//! `scimd outbox list|retry`. They work on the database directly, like every other command;
//! a running server's outbox worker picks the queued messages up at its next poll.

use crate::settings::StorageArgs;
use anyhow::{Context, bail};
use clap::Subcommand;
use domain::outbox::OutboxState;
use domain::ports::{Store, StoreError};
use domain::query::{Condition, Op, PageRequest, Query, QueryValue, UserField};
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Send a new activation email: a new code (valid 21 days) replaces the old one, which
    /// stops working; the status goes back to pendingActivation.
    ResendActivation {
        #[arg(long)]
        service: String,
        /// The user's login (SCIM userName), case-insensitive.
        login: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List queued emails, newest first (recipient, state, attempts, last error).
    List {
        /// Only dead-lettered messages (given up after too many failed attempts).
        #[arg(long)]
        dead: bool,
        /// Only messages still waiting to be sent.
        #[arg(long, conflicts_with = "dead")]
        pending: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Put dead-lettered messages back in the queue (after fixing the SMTP settings).
    Retry {
        /// The message id (first column of `scimd outbox list`).
        #[arg(required_unless_present = "all_dead")]
        id: Option<i64>,
        /// Every dead message.
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

async fn open(storage: &StorageArgs) -> anyhow::Result<Arc<dyn Store>> {
    store::open(&storage.store_options()).await.map_err(anyhow::Error::msg)
}

pub async fn user_command(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::ResendActivation { service, login, storage } => {
            let store = open(&storage).await?;
            let service = store
                .service_by_name(&service)
                .await?
                .with_context(|| format!("no service named {service:?} (see `scimd service list`)"))?;
            let query = Query {
                condition: Condition::Cmp(UserField::UserName, Op::Eq, QueryValue::Text(login.clone())),
                sort: None,
                page: Some(PageRequest { offset: 0, limit: 1 }),
            };
            let Some(user) = store.query_users(service.id, &query).await?.items.into_iter().next() else {
                bail!("no user with login {login:?} in service {:?}", service.name);
            };
            let activation = crate::activation::issue(&service, &user.id, &user.user_name, &user.profile);
            let expires = domain::format_timestamp(activation.expires_at);
            let user = store.reissue_activation(service.id, &user.id, activation).await.map_err(|e| match e {
                StoreError::Rule(rule) => anyhow::anyhow!("{rule}"),
                other => other.into(),
            })?;
            println!(
                "queued a new activation email for {:?} to {} (code valid until {expires}); the previous code no \
                 longer works",
                user.user_name,
                user.profile.email.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(())
}

pub async fn outbox_command(cmd: OutboxCommand) -> anyhow::Result<()> {
    match cmd {
        OutboxCommand::List { dead, pending, limit, storage } => {
            let store = open(&storage).await?;
            let state = if dead {
                Some(OutboxState::Dead)
            } else if pending {
                Some(OutboxState::Pending)
            } else {
                None
            };
            let counts = store.outbox_counts().await?;
            println!("ID\tSTATE\tATTEMPTS\tRECIPIENT\tTEMPLATE\tCREATED\tNEXT ATTEMPT\tSENT\tLAST ERROR");
            for m in store.list_outbox(state, limit.clamp(1, 10_000)).await? {
                let next = if m.state == OutboxState::Pending {
                    domain::format_timestamp(m.next_attempt_at)
                } else {
                    "-".to_owned()
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    m.id,
                    m.state,
                    m.attempts,
                    m.recipient,
                    m.template,
                    domain::format_timestamp(m.created),
                    next,
                    m.sent_at.map(domain::format_timestamp).unwrap_or_else(|| "-".into()),
                    m.last_error.as_deref().unwrap_or("-").replace(['\t', '\n', '\r'], " ")
                );
            }
            eprintln!("{} pending, {} dead", counts.pending, counts.dead);
        }
        OutboxCommand::Retry { id, all_dead, storage } => {
            let store = open(&storage).await?;
            let n = store.requeue_outbox(if all_dead { None } else { id }, domain::now()).await?;
            if n == 0 {
                match id {
                    Some(id) if !all_dead => bail!("no dead message with id {id}"),
                    _ => println!("no dead messages"),
                }
            } else {
                println!("requeued {n} message(s)");
            }
        }
    }
    Ok(())
}
