//! Agents: enrollment (redeeming a site's one-time code) and removal. Both change the agents'
//! rows and the site's endpoints in the directory in one transaction, and tell the pusher.

use super::scope::Actor;
use axum::http::StatusCode;
use pochta_directory::api::{EnrollRequest, EnrollResponse};
use pochta_directory::wire::FORMAT;
use pochta_directory::{AgentEndpoint, Op, SiteId};

use super::parse_field;
use crate::db::{self, auth::AgentRow};
use crate::error::ApiError;
use crate::state::AppState;

/// Redeems a one-time token: records the agent, adds its endpoint to its site in the directory
/// (so every other agent learns it), and hands back the deployment's identity and the key that
/// signs change sets.
pub async fn enroll(st: &AppState, req: EnrollRequest) -> Result<EnrollResponse, ApiError> {
    if req.format != FORMAT {
        return Err(ApiError::bad_request(format!(
            "the agent speaks change-set format {}, this server format {FORMAT}; install matching versions",
            req.format
        )));
    }
    let pin = req.tls_sha256.trim().to_ascii_lowercase();
    if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("tls_sha256 must be 64 hex digits"));
    }
    let url = req.url.trim().trim_end_matches('/').to_owned();
    if !url.is_empty() && !url.starts_with("https://") {
        return Err(ApiError::bad_request("the agent URL must start with https://"));
    }
    let smtp = req.smtp.trim().to_owned();
    if !smtp.is_empty()
        && smtp.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(ApiError::bad_request("smtp must be host:port"));
    }
    let mut edit = st.publisher.begin().await?;
    let site = db::auth::redeem_enrollment(&mut edit.tx, req.token.trim()).await?.ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "the enrollment code is unknown, used or expired")
    })?;
    let site_id = parse_field("site", "site", "err-site-id", SiteId::parse(&site))?;
    let mut site =
        edit.directory().site(&site_id).cloned().ok_or_else(|| {
            ApiError::conflict(format!("site '{site_id}' was deleted after the code was made"))
        })?;
    let secret = db::auth::random_token();
    let agent = AgentRow {
        id: format!("{}-{}", site.id, &db::auth::random_token()[..8].to_ascii_lowercase()),
        site: site.id.to_string(),
        url: url.clone(),
        tls_sha256: pin.clone(),
        applied: 0,
        last_seen: None,
        enrolled_at: db::now(),
    };
    db::auth::insert_agent(&mut edit.tx, &agent, &secret).await?;
    site.agents.push(AgentEndpoint { id: agent.id.clone(), url, tls_sha256: pin, smtp });
    let level = u8::from(site.level);
    edit.commit(&format!("agent {}", agent.id), vec![Op::PutSite(site)]).await?;
    st.pusher.watch(agent.clone());
    tracing::info!(agent = %agent.id, site = %agent.site, "agent enrolled");
    Ok(EnrollResponse {
        agent_id: agent.id,
        secret,
        site: agent.site,
        level,
        deployment: st.publisher.deployment.to_hex(),
        domain: st.publisher.current().0.domain.to_string(),
        verify_key: st.publisher.verifier().to_hex(),
        peer_secret: st.pusher.peer_secret().to_owned(),
    })
}

/// Forgets an agent: it can no longer pull, and its endpoint leaves the directory.
pub async fn remove(st: &AppState, by: &Actor, id: &str) -> Result<(), ApiError> {
    super::queue::agent(st, &by.scope, id).await?;
    let mut edit = st.publisher.begin().await?;
    if !db::auth::delete_agent(&mut edit.tx, id).await? {
        return Err(ApiError::not_found(format!("there is no agent '{id}'"))
            .key("err-no-such-agent")
            .arg("agent", id));
    }
    let ops = edit
        .directory()
        .sites
        .values()
        .filter(|s| s.agents.iter().any(|a| a.id == id))
        .map(|s| {
            let mut s = s.clone();
            s.agents.retain(|a| a.id != id);
            Op::PutSite(s)
        })
        .collect();
    edit.commit(&by.name, ops).await?;
    st.pusher.forget(id);
    Ok(())
}
