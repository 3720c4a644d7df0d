//! The domain's settings: today whether new names may have letters of other alphabets.

use super::scope::Actor;
use pochta_directory::wire::Version;
use pochta_directory::{DomainSettings, Op};

use crate::error::ApiError;
use crate::state::AppState;

/// Allows or forbids non-ASCII letters in new names (names already given keep working).
pub async fn set_unicode_names(st: &AppState, by: &Actor, allow: bool) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    st.publisher
        .edit::<ApiError>(&by.name, |dir| {
            if dir.settings.unicode_names == allow {
                return Ok(vec![]);
            }
            Ok(vec![Op::PutSettings(DomainSettings { unicode_names: allow })])
        })
        .await
}
