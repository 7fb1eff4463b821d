//! The cluster (issue 13) against a real nats-server with JetStream and real liveguard
//! processes. `.ci/run` installs nats-server; without it these tests fail, loudly.

mod messaging;
mod nats;
mod processes;
