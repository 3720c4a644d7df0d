//! Recipient resolution (placeholder until written).
