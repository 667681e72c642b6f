//! Each function binary, started with a bad configuration, stops at init and names the
//! variable, without a panic.

use integration_tests::{
    assert_refuses_bad_configuration, assert_refuses_bad_session_configuration,
};

use crate::runtime_support::function_binary;

mod create_connect_token {
    use super::*;

    #[test]
    fn a_bad_configuration_stops_the_function_at_init_naming_the_variable() {
        assert_refuses_bad_configuration(&function_binary("create-connect-token"));
    }
}

mod verify_signed_passkey_data {
    use super::*;

    #[test]
    fn a_bad_configuration_stops_the_function_at_init_naming_the_variable() {
        assert_refuses_bad_configuration(&function_binary("verify-signed-passkey-data"));
    }
}

mod session {
    use super::*;

    #[test]
    fn a_bad_configuration_stops_the_function_at_init_naming_the_variable() {
        assert_refuses_bad_session_configuration(&function_binary("session"));
    }
}

mod session_authorizer {
    use super::*;

    #[test]
    fn a_bad_configuration_stops_the_function_at_init_naming_the_variable() {
        assert_refuses_bad_session_configuration(&function_binary("session-authorizer"));
    }
}
