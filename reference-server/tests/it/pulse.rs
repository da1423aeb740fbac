//! Placeholder: Prisma Pulse tests are being written.
