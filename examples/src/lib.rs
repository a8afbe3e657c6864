//! The example application.
