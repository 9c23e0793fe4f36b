// Validates Bot Framework channel tokens with Microsoft's own validator
// (botframework-connector's ChannelValidation), pointed at a local OpenID
// metadata URL, and prints one verdict per case. Test-only: the Go test
// differential_test.go compares these verdicts with the Go connector's.
//
// stdin:  {"metadataUrl": "...", "appId": "...", "cases": [{"name", "header", "serviceUrl", "channelId"}]}
// stdout: {"<name>": "accept" | "refuse: <reason>", ...}
'use strict';

const { ChannelValidation, SimpleCredentialProvider } = require('botframework-connector');

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  ChannelValidation.OpenIdMetadataEndpoint = input.metadataUrl;
  const creds = new SimpleCredentialProvider(input.appId, '');
  const out = {};
  // One at a time, in order: the SDK's key cache is shared, as it is in a bot.
  for (const c of input.cases) {
    try {
      await ChannelValidation.authenticateChannelTokenWithServiceUrl(c.header, creds, c.serviceUrl, c.channelId);
      out[c.name] = 'accept';
    } catch (err) {
      out[c.name] = 'refuse: ' + String((err && err.message) || err).split('\n')[0];
    }
  }
  process.stdout.write(JSON.stringify(out));
}

// The SDK logs refusals with console.error; keep stdout for the verdicts.
console.error = () => {};
main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
