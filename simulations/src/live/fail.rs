//! How a failed `trove_client` call shows in the run: the error code it is
//! counted under ([`error_code`]) and the HTTP status it carried ([`status`]).

use trove_client::ClientError;

/// The run's error code of a failed request: the server's code, or what
/// happened to the transport.
pub(crate) fn error_code(e: &ClientError) -> &'static str {
    match e {
        ClientError::Decode(_) => "malformed_answer",
        ClientError::Disconnected => "disconnected",
        ClientError::Timeout(_) => "timeout",
        ClientError::Closed => "closed",
        e => e.code().map_or("transport", |c| c.as_str()),
    }
}

/// The HTTP status of a failed call, when the server answered.
pub(crate) fn status(e: &ClientError) -> Option<u16> {
    match e {
        ClientError::Server { status, .. } => *status,
        ClientError::Status { status, .. } => Some(*status),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_protocol::ErrorCode;

    #[test]
    fn server_codes_and_transport_failures() {
        let server = ClientError::Server {
            code: ErrorCode::UnknownHunt,
            message: "no such hunt".into(),
            index: None,
            status: Some(404),
        };
        assert_eq!((error_code(&server), status(&server)), ("unknown_hunt", Some(404)));
        assert_eq!(error_code(&ClientError::Disconnected), "disconnected");
        assert_eq!(error_code(&ClientError::Unauthorized), "unauthorized");
        assert_eq!(status(&ClientError::Closed), None);
    }
}
