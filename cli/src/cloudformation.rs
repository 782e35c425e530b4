//! A stack's outputs (`DescribeStacks`): one signed query-protocol call read with the XML
//! tokenizer the SDK already builds, instead of compiling the CloudFormation SDK for it.

use std::collections::BTreeMap;

use hyper::Method;
use xmlparser::{ElementEnd, Token, Tokenizer};

use crate::exit::CliError;
use crate::http::{Http, Outgoing};
use crate::routes::encode;
use crate::sign::Signer;

pub type Outputs = BTreeMap<String, String>;

/// CloudFormation's regional endpoint (China's partition has its own suffix).
pub fn endpoint_for(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://cloudformation.{region}.{suffix}/")
}

pub async fn stack_outputs(
    http: &Http,
    signer: &Signer,
    endpoint: &str,
    stack: &str,
) -> Result<Outputs, CliError> {
    let request = Outgoing {
        method: Method::POST,
        url: endpoint.to_owned(),
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )],
        body: format!(
            "Action=DescribeStacks&Version=2010-05-15&StackName={}",
            encode(stack)
        )
        .into_bytes(),
        service: Some("cloudformation"),
    };
    let reply = http.send(&request, Some(signer)).await.map_err(|err| match err {
        CliError::Unavailable(reason) => CliError::Unavailable(format!(
            "cannot read stack {stack}'s outputs from CloudFormation: {reason}"
        )),
        other => other,
    })?;
    let text = String::from_utf8_lossy(&reply.body);
    let document = parse(&text).map_err(|e| {
        CliError::Unavailable(format!(
            "CloudFormation at {endpoint} answered {} with unreadable XML: {e}",
            reply.status
        ))
    })?;
    match document {
        Described::Outputs(outputs) if (200..300).contains(&reply.status) => Ok(outputs),
        Described::Error { code, message } if message.contains("does not exist") => Err(CliError::NotFound(
            format!("stack {stack} does not exist ({code}: {message})"),
        )),
        Described::Error { code, message } => Err(CliError::Unavailable(format!(
            "CloudFormation refused to describe stack {stack}: {code}: {message}"
        ))),
        Described::Outputs(_) => Err(CliError::Unavailable(format!(
            "CloudFormation answered {} without an error",
            reply.status
        ))),
    }
}

#[derive(Debug, PartialEq)]
enum Described {
    Outputs(Outputs),
    Error { code: String, message: String },
}

/// Reads `DescribeStacksResponse/.../Outputs/member/{OutputKey,OutputValue}` or
/// `ErrorResponse/Error/{Code,Message}`.
fn parse(xml: &str) -> Result<Described, String> {
    let mut path: Vec<&str> = Vec::new();
    let mut outputs = Outputs::new();
    let (mut key, mut value) = (None, None);
    let (mut code, mut message) = (None, None);
    let mut is_error = false;
    for token in Tokenizer::from(xml) {
        match token.map_err(|e| e.to_string())? {
            Token::ElementStart { local, .. } => {
                if local.as_str() == "ErrorResponse" {
                    is_error = true;
                }
                path.push(local.as_str());
            }
            Token::ElementEnd { end, .. } => {
                if matches!(end, ElementEnd::Close(..) | ElementEnd::Empty) {
                    let closed = path.pop();
                    if closed == Some("member") && path.last() == Some(&"Outputs") {
                        if let (Some(k), Some(v)) = (key.take(), value.take()) {
                            outputs.insert(k, v);
                        }
                    }
                }
            }
            Token::Text { text } => {
                let in_output = path.len() >= 3 && path[path.len() - 3] == "Outputs";
                let text = unescape(text.as_str());
                match path.last().copied() {
                    Some("OutputKey") if in_output => key = Some(text),
                    Some("OutputValue") if in_output => value = Some(text),
                    Some("Code") if is_error => code = Some(text),
                    Some("Message") if is_error => message = Some(text),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(if is_error {
        Described::Error {
            code: code.unwrap_or_else(|| "Unknown".into()),
            message: message.unwrap_or_default(),
        }
    } else {
        Described::Outputs(outputs)
    })
}

/// XML's five named entities and numeric references.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let Some(semi) = rest[amp..].find(';') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let entity = &rest[amp + 1..amp + semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[amp..=amp + semi]),
        }
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult>
    <Stacks>
      <member>
        <StackName>recoflow</StackName>
        <Parameters><member><ParameterKey>OutputKey</ParameterKey><ParameterValue>decoy</ParameterValue></member></Parameters>
        <Outputs>
          <member>
            <Description>Base URL of the REST API</Description>
            <OutputKey>ApiUrl</OutputKey>
            <OutputValue>http://127.0.0.1:4566/_aws/execute-api/abc/Prod?a=1&amp;b=2</OutputValue>
          </member>
          <member>
            <OutputValue>recoflow-forms-000000000000</OutputValue>
            <OutputKey>FormsBucket</OutputKey>
          </member>
        </Outputs>
      </member>
    </Stacks>
  </DescribeStacksResult>
</DescribeStacksResponse>"#;

    #[test]
    fn outputs_are_read_by_key() {
        let Described::Outputs(outputs) = parse(ANSWER).unwrap() else {
            panic!()
        };
        assert_eq!(outputs.len(), 2);
        assert_eq!(
            outputs["ApiUrl"],
            "http://127.0.0.1:4566/_aws/execute-api/abc/Prod?a=1&b=2"
        );
        assert_eq!(outputs["FormsBucket"], "recoflow-forms-000000000000");
    }

    #[test]
    fn errors_are_read_with_their_code() {
        let xml = r#"<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id nope does not exist</Message></Error>
  <RequestId>1</RequestId></ErrorResponse>"#;
        assert_eq!(
            parse(xml).unwrap(),
            Described::Error {
                code: "ValidationError".into(),
                message: "Stack with id nope does not exist".into()
            }
        );
        assert!(parse("not xml <").is_err());
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            unescape("a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x42;&bogus;"),
            "a&b<c>\"'AB&bogus;"
        );
        assert_eq!(unescape("tail &amp"), "tail &amp");
    }

    #[test]
    fn endpoints_follow_the_partition() {
        assert_eq!(
            endpoint_for("eu-west-1"),
            "https://cloudformation.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            endpoint_for("cn-north-1"),
            "https://cloudformation.cn-north-1.amazonaws.com.cn/"
        );
    }
}
