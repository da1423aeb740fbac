//! Placeholder: Fibric tests are being written.
