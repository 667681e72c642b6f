//! Integration tests live in `tests/tests/`; they start from real API Gateway events and real emulators.
