//! Why a statement or a submission is refused before its signer is looked at.

use crate::signature::SignatureError;
use crate::strict_json::StrictJsonError;

use super::limits::{MAX_STATEMENT_BYTES, VERSION};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("statement is {0} bytes; the limit is {MAX_STATEMENT_BYTES}")]
    TooLarge(usize),
    #[error("submission is {bytes} bytes; the limit is {limit}")]
    SubmissionTooLarge { bytes: usize, limit: usize },
    #[error("statement is not strict JSON: {0}")]
    Json(#[from] StrictJsonError),
    #[error("statement does not match the schema: {0}")]
    Schema(String),
    #[error("unsupported statement version {0} (this notary reads version {VERSION})")]
    UnsupportedVersion(u64),
    #[error("unknown statement kind {0:?}")]
    UnknownKind(String),
    #[error("body of {kind} does not match its schema: {reason}")]
    Body { kind: &'static str, reason: String },
    #[error("signer key: {0}")]
    BadSignerKey(SignatureError),
    #[error("signature is not 64 bytes of base64")]
    MalformedSignature,
    #[error("signature does not verify under the signer key: {0}")]
    BadSignature(SignatureError),
}

pub(super) fn schema<E: std::fmt::Display>(e: E) -> AttestationError {
    AttestationError::Schema(e.to_string())
}

impl AttestationError {
    /// The error as people read it, in `lang`.
    pub fn message(&self, lang: crate::lang::Lang) -> String {
        if lang == crate::lang::Lang::En {
            return self.to_string();
        }
        match self {
            AttestationError::TooLarge(n) => {
                format!("语句为 {n} 字节，上限为 {MAX_STATEMENT_BYTES} 字节")
            }
            AttestationError::SubmissionTooLarge { bytes, limit } => {
                format!("提交内容为 {bytes} 字节，上限为 {limit} 字节")
            }
            AttestationError::Json(e) => format!("语句不是严格 JSON：{e}"),
            AttestationError::Schema(e) => format!("语句不符合格式：{e}"),
            AttestationError::UnsupportedVersion(v) => {
                format!("不支持的语句版本 {v}（本程序读取版本 {VERSION}）")
            }
            AttestationError::UnknownKind(k) => format!("未知的语句类型 {k:?}"),
            AttestationError::Body { kind, reason } => format!("{kind} 的内容不符合格式：{reason}"),
            AttestationError::BadSignerKey(e) => format!("签名者公钥不可用：{e}"),
            AttestationError::MalformedSignature => "签名不是 64 字节的 base64".to_owned(),
            AttestationError::BadSignature(e) => format!("签名在签名者公钥下验证失败：{e}"),
        }
    }
}
