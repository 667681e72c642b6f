#[test]
fn a_bad_configuration_stops_the_function_at_init_naming_the_variable() {
    integration_tests::assert_refuses_bad_session_configuration(env!("CARGO_BIN_EXE_session"));
}
