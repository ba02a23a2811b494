using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Aitbc.Coordinator.Data;

/// <summary>The market's database, used directly by the handlers (no repository wrapper).</summary>
public abstract class CoordinatorDb(DbContextOptions options) : DbContext(options)
{
    public DbSet<ProviderEntity> Providers => Set<ProviderEntity>();
    public DbSet<OfferEntity> Offers => Set<OfferEntity>();
    public DbSet<JobEntity> Jobs => Set<JobEntity>();
    public DbSet<SeenSignatureEntity> SeenSignatures => Set<SeenSignatureEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ProviderEntity>(e =>
        {
            e.ToTable("providers");
            e.HasKey(p => p.Address);
            e.Property(p => p.Address).HasMaxLength(64);
            e.Property(p => p.Region).HasMaxLength(64);
            e.Property(p => p.Gpu).HasMaxLength(128);
            e.Property(p => p.Status).HasMaxLength(16);
            e.HasMany(p => p.Offers).WithOne().HasForeignKey(o => o.ProviderAddress).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<OfferEntity>(e =>
        {
            e.ToTable("offers");
            e.Property(o => o.Model).HasMaxLength(256);
            e.Property(o => o.ModelDigest).HasMaxLength(256);
            e.HasIndex(o => new { o.Model, o.ExpiresAt });
            e.HasIndex(o => new { o.ProviderAddress, o.Model }).IsUnique();
        });
        modelBuilder.Entity<JobEntity>(e =>
        {
            e.ToTable("jobs");
            e.HasKey(j => j.Id);
            e.Property(j => j.Id).HasMaxLength(64);
            e.Property(j => j.Client).HasMaxLength(64);
            e.Property(j => j.Provider).HasMaxLength(64);
            e.Property(j => j.IdempotencyKey).HasMaxLength(128);
            e.Property(j => j.State).HasMaxLength(32);
            e.HasIndex(j => new { j.Client, j.IdempotencyKey }).IsUnique();
            e.HasIndex(j => new { j.State, j.Provider });
            e.HasIndex(j => new { j.Provider, j.State });
        });
        modelBuilder.Entity<SeenSignatureEntity>(e =>
        {
            e.ToTable("seen_signatures");
            e.HasKey(s => s.Digest);
            e.Property(s => s.Digest).HasMaxLength(64);
            e.HasIndex(s => s.Until);
        });
    }
}

public sealed class SqliteCoordinatorDb(DbContextOptions<SqliteCoordinatorDb> options) : CoordinatorDb(options);

public sealed class PostgresCoordinatorDb(DbContextOptions<PostgresCoordinatorDb> options) : CoordinatorDb(options);

/// <summary>Design-time factories, for generating each provider's migrations.</summary>
public sealed class SqliteDesignFactory : IDesignTimeDbContextFactory<SqliteCoordinatorDb>
{
    public SqliteCoordinatorDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteCoordinatorDb>().UseSqlite("Data Source=design.db").Options);
}

public sealed class PostgresDesignFactory : IDesignTimeDbContextFactory<PostgresCoordinatorDb>
{
    public PostgresCoordinatorDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresCoordinatorDb>().UseNpgsql("Host=localhost;Database=design").Options);
}
