//! What the developer tools share with the tests: [`runtime_api`], the Lambda
//! Runtime API on loopback, which runs a real function binary the way Lambda does.

pub mod runtime_api;
