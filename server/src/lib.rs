//! The Pochta central server: the single point of administration. It owns the master directory
//! and the change log, and publishes every edit as a signed change set to the site agents.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod init;
pub mod manage;
pub mod moves;
pub mod publish;
pub mod push;
pub mod reports;
pub mod state;
pub mod summary;
pub mod web;

pub use app::{App, Running};
