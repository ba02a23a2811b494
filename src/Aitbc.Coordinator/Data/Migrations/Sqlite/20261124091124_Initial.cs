using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Aitbc.Coordinator.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "jobs",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Client = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    IdempotencyKey = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Model = table.Column<string>(type: "TEXT", nullable: false),
                    ModelDigest = table.Column<string>(type: "TEXT", nullable: false),
                    Input = table.Column<string>(type: "TEXT", nullable: false),
                    MaxTokens = table.Column<int>(type: "INTEGER", nullable: false),
                    InputTokenBound = table.Column<int>(type: "INTEGER", nullable: false),
                    PriceIn = table.Column<long>(type: "INTEGER", nullable: false),
                    PriceOut = table.Column<long>(type: "INTEGER", nullable: false),
                    Amount = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false),
                    PaymentDeadline = table.Column<long>(type: "INTEGER", nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    FundedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    DispatchedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    AcceptDeadline = table.Column<long>(type: "INTEGER", nullable: true),
                    DispatchedBy = table.Column<string>(type: "TEXT", nullable: true),
                    DispatchCount = table.Column<int>(type: "INTEGER", nullable: false),
                    AcceptedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    FirstTokenAt = table.Column<long>(type: "INTEGER", nullable: true),
                    FinishedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    FailureCode = table.Column<string>(type: "TEXT", nullable: true),
                    FailureReason = table.Column<string>(type: "TEXT", nullable: true),
                    Output = table.Column<string>(type: "TEXT", nullable: true),
                    Receipt = table.Column<string>(type: "TEXT", nullable: true),
                    ReceiptHash = table.Column<string>(type: "TEXT", nullable: true),
                    TokensIn = table.Column<long>(type: "INTEGER", nullable: true),
                    TokensOut = table.Column<long>(type: "INTEGER", nullable: true),
                    ChargedAmount = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_jobs", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "providers",
                columns: table => new
                {
                    Address = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Region = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Gpu = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Concurrency = table.Column<int>(type: "INTEGER", nullable: false),
                    RegisteredAt = table.Column<long>(type: "INTEGER", nullable: false),
                    LastHeartbeat = table.Column<long>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_providers", x => x.Address);
                });

            migrationBuilder.CreateTable(
                name: "offers",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProviderAddress = table.Column<string>(type: "TEXT", nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    ModelDigest = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    PriceIn = table.Column<long>(type: "INTEGER", nullable: false),
                    PriceOut = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_offers", x => x.Id);
                    table.ForeignKey(
                        name: "FK_offers_providers_ProviderAddress",
                        column: x => x.ProviderAddress,
                        principalTable: "providers",
                        principalColumn: "Address",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Client_IdempotencyKey",
                table: "jobs",
                columns: new[] { "Client", "IdempotencyKey" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Provider_State",
                table: "jobs",
                columns: new[] { "Provider", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_State_Provider",
                table: "jobs",
                columns: new[] { "State", "Provider" });

            migrationBuilder.CreateIndex(
                name: "IX_offers_Model_ExpiresAt",
                table: "offers",
                columns: new[] { "Model", "ExpiresAt" });

            migrationBuilder.CreateIndex(
                name: "IX_offers_ProviderAddress_Model",
                table: "offers",
                columns: new[] { "ProviderAddress", "Model" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "jobs");

            migrationBuilder.DropTable(
                name: "offers");

            migrationBuilder.DropTable(
                name: "providers");
        }
    }
}
