using Aitbc.Node.Client;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Auth;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Signing;

namespace Aitbc.Wallet;

/// <summary>The running daemon's parts, as the API handlers see them.</summary>
internal sealed record WalletContext(WalletKeystore Keystore, WalletSigner Signer, AuditLog Audit, WalletTokens Tokens, NodeClient Node, WalletOptions Options);
