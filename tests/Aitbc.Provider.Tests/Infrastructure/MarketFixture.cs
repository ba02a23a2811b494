namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>One market (node and coordinator, default escrow windows) shared by a test class.</summary>
public sealed class MarketFixture : IAsyncLifetime
{
    private Market? _market;

    public Market Market => _market ?? throw new InvalidOperationException("The market has not started.");

    public async Task InitializeAsync() => _market = await Market.StartAsync();

    public async Task DisposeAsync()
    {
        if (_market is not null)
        {
            await _market.DisposeAsync();
        }
    }
}
